// The node:crypto fast paths (node-crypto.ts) give the same bytes and the same refusals as the
// portable noble paths and the WebCrypto paths a browser takes (spec EN-02, EN-03, EN-07,
// EN-08): differential properties over random inputs, published vectors on both paths, and
// checks that the fast paths are really the ones taken on Node (so these tests can fail).
import { x25519 } from "@noble/curves/ed25519.js";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { bytesToHex, hexToBytes, utf8 } from "./bytes.js";
import {
  aes256CbcDecrypt,
  aes256CbcEncrypt,
  aes256Ctr,
  aes256GcmDecrypt,
  aes256GcmEncrypt,
  cipherUsesNode,
  portableCiphers,
} from "./cipher.js";
import { PrivateKey, PublicKey, clampPrivateKey } from "./curve.js";
import {
  hkdfSha256,
  hkdfSha256Portable,
  hmacSha256,
  hmacSha256Each,
  hmacSha256Parts,
  kdfUsesNode,
  portable,
  sha256,
  sha512,
} from "./kdf.js";
import { nodeCrypto, useNodeCrypto } from "./node-crypto.js";
import { generateX25519Node, importX25519PrivateNode, nodeX25519 } from "./x25519.js";

const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** The outcome of a call: hex bytes, or the ProtocolError code, or anything else. */
function outcome(f: () => Uint8Array): string {
  try {
    return bytesToHex(f());
  } catch (e) {
    return isProtocolError(e) ? `ProtocolError:${(e as { code: string }).code}` : `other:${String(e)}`;
  }
}

/** Runs `f` with the Node fast paths off (the paths a browser takes), then turns them back on. */
async function withoutNode<T>(f: () => T | Promise<T>): Promise<T> {
  useNodeCrypto(false);
  try {
    return await f();
  } finally {
    useNodeCrypto(true);
  }
}

afterEach(() => useNodeCrypto(true));

describe("detection", () => {
  it("finds node:crypto on Node and takes the fast paths; useNodeCrypto(false) turns every one off", () => {
    expect(nodeCrypto()).toBeDefined();
    expect(kdfUsesNode()).toBe(true);
    expect(cipherUsesNode()).toBe(true);
    expect(nodeX25519()).toBeDefined();
    useNodeCrypto(false);
    expect(nodeCrypto()).toBeUndefined();
    expect(kdfUsesNode()).toBe(false);
    expect(cipherUsesNode()).toBe(false);
    expect(nodeX25519()).toBeUndefined();
  });
});

describe("hashes, HMAC, HKDF: Node equals noble", () => {
  it("RFC 4231 test case 2 and RFC 5869 test case 1 on both paths", async () => {
    const mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const okm = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
    const run = () => [
      bytesToHex(hmacSha256(utf8("Jefe"), utf8("what do ya want for nothing?"))),
      bytesToHex(
        hkdfSha256(
          hexToBytes("0b".repeat(22)),
          hexToBytes("000102030405060708090a0b0c"),
          hexToBytes("f0f1f2f3f4f5f6f7f8f9"),
          42,
        ),
      ),
    ];
    expect(run()).toEqual([mac, okm]);
    expect(await withoutNode(run)).toEqual([mac, okm]);
  });

  it("any key, data, salt (or none), info and length give noble's bytes (property)", () => {
    fc.assert(
      fc.property(bytes(150), bytes(300), fc.option(bytes(80), { nil: undefined }), bytes(40), fc.integer({ min: 0, max: 255 }), (key, data, salt, info, length) => {
        expect(bytesToHex(hmacSha256(key, data))).toBe(bytesToHex(portable.hmacSha256(key, data)));
        expect(bytesToHex(sha256(data))).toBe(bytesToHex(portable.sha256(data)));
        expect(bytesToHex(sha512(data))).toBe(bytesToHex(portable.sha512(data)));
        expect(bytesToHex(hkdfSha256(data, salt, info, length))).toBe(bytesToHex(hkdfSha256Portable(data, salt, info, length)));
        const parts = [key, data, info];
        expect(bytesToHex(hmacSha256Parts(salt ?? key, parts))).toBe(bytesToHex(portable.hmacSha256(salt ?? key, Uint8Array.from([...key, ...data, ...info]))));
        expect(hmacSha256Each(key, parts).map(bytesToHex)).toEqual(parts.map((m) => bytesToHex(portable.hmacSha256(key, m))));
      }),
      { numRuns: 200 },
    );
  });
});

describe("AES-256 CBC, CTR, GCM: Node equals noble, refusals included", () => {
  const key = bytes32;
  const iv = fc.uint8Array({ minLength: 16, maxLength: 16 });

  it("encryption gives noble's bytes; decryption of the result, of a tampered copy and of garbage has noble's outcome (property)", () => {
    fc.assert(
      fc.property(key, iv, bytes(300), bytes(40), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 96 }), (k, v, pt, aad, flip, garbage) => {
        const nonce = v.subarray(0, 12);
        const cbc = aes256CbcEncrypt(k, v, pt);
        expect(bytesToHex(cbc)).toBe(bytesToHex(portableCiphers.cbcEncrypt(k, v, pt)));
        expect(bytesToHex(aes256CbcDecrypt(k, v, cbc))).toBe(bytesToHex(pt));
        expect(bytesToHex(aes256Ctr(k, v, pt))).toBe(bytesToHex(portableCiphers.ctr(k, v, pt)));
        const gcm = aes256GcmEncrypt(k, nonce, pt, aad);
        expect(bytesToHex(gcm)).toBe(bytesToHex(portableCiphers.gcmEncrypt(k, nonce, pt, aad)));
        expect(bytesToHex(aes256GcmDecrypt(k, nonce, gcm, aad))).toBe(bytesToHex(pt));

        // An attacker's edits: a flipped bit anywhere (CBC: the padding may break; GCM: the tag).
        const badCbc = Uint8Array.from(cbc);
        badCbc[flip % badCbc.length] = (badCbc[flip % badCbc.length] as number) ^ (1 << (flip % 8));
        const badGcm = Uint8Array.from(gcm);
        badGcm[flip % badGcm.length] = (badGcm[flip % badGcm.length] as number) ^ (1 << (flip % 8));
        for (const [fast, slow] of [
          [() => aes256CbcDecrypt(k, v, badCbc), () => aes256CbcDecrypt(k, v, badCbc)],
          [() => aes256CbcDecrypt(k, v, garbage), () => aes256CbcDecrypt(k, v, garbage)],
          [() => aes256GcmDecrypt(k, nonce, badGcm, aad), () => aes256GcmDecrypt(k, nonce, badGcm, aad)],
          [() => aes256GcmDecrypt(k, nonce, garbage, aad), () => aes256GcmDecrypt(k, nonce, garbage, aad)],
        ] as const) {
          const viaNode = outcome(fast);
          useNodeCrypto(false);
          const viaNoble = outcome(slow);
          useNodeCrypto(true);
          expect(viaNode).toBe(viaNoble);
        }
        expect(outcome(() => aes256GcmDecrypt(k, nonce, badGcm, aad))).toBe("ProtocolError:bad_mac");
      }),
      { numRuns: 200 },
    );
  });

  it("every PKCS#7 padding byte is checked on the Node path, as on noble's", async () => {
    const k = new Uint8Array(32).fill(3);
    const v = new Uint8Array(16).fill(5);
    // A block whose decryption ends in ... 0x04 0x04 0x03 0x04: last byte says 4, one of them is wrong.
    const plain = Uint8Array.from([...new Uint8Array(12).fill(9), 4, 4, 3, 4]);
    const encryptedNoPad = portableCiphers.cbcEncrypt(k, v, plain).subarray(0, 16);
    expect(outcome(() => aes256CbcDecrypt(k, v, encryptedNoPad))).toBe("ProtocolError:invalid_ciphertext");
    expect(await withoutNode(() => outcome(() => aes256CbcDecrypt(k, v, encryptedNoPad)))).toBe("ProtocolError:invalid_ciphertext");
  });
});

describe("AES-256-CBC padding checked in JavaScript on the Node path (cipher.ts)", () => {
  it("a last block with any padding value, every padding byte right or one of them wrong, is refused or accepted as noble does (property)", () => {
    fc.assert(
      fc.property(
        bytes32,
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 3 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 20 }),
        fc.option(fc.record({ at: fc.integer({ min: 1, max: 16 }), xor: fc.integer({ min: 1, max: 255 }) }), { nil: undefined }),
        (k, v, leadingBlocks, last, padValue, corrupt) => {
          // Blocks whose decryption ends in `padValue` repeated (0 and > 16 are never valid),
          // then maybe one of the last 16 bytes changed.
          const plain = new Uint8Array(16 * (leadingBlocks + 1));
          plain.set(last, 16 * leadingBlocks);
          plain.fill(padValue, plain.length - Math.min(Math.max(padValue, 1), 16));
          if (corrupt !== undefined) plain[plain.length - corrupt.at] = (plain[plain.length - corrupt.at] as number) ^ corrupt.xor;
          const c = portableCiphers.cbcEncrypt(k, v, plain).subarray(0, plain.length);
          const expected = (() => {
            try {
              return bytesToHex(portableCiphers.cbcDecrypt(k, v, c));
            } catch {
              return "ProtocolError:invalid_ciphertext";
            }
          })();
          expect(cipherUsesNode()).toBe(true);
          expect(outcome(() => aes256CbcDecrypt(k, v, c))).toBe(expected);
        },
      ),
      { numRuns: 600 },
    );
  });

  it("refuses a padding byte of 0 or above 16 and a wrong byte at every position of a 16-byte padding", () => {
    const k = new Uint8Array(32).fill(1);
    const v = new Uint8Array(16).fill(2);
    const seal = (block: Uint8Array) => portableCiphers.cbcEncrypt(k, v, block).subarray(0, 16);
    expect(outcome(() => aes256CbcDecrypt(k, v, seal(new Uint8Array(16))))).toBe("ProtocolError:invalid_ciphertext");
    expect(outcome(() => aes256CbcDecrypt(k, v, seal(new Uint8Array(16).fill(17))))).toBe("ProtocolError:invalid_ciphertext");
    expect(outcome(() => aes256CbcDecrypt(k, v, seal(new Uint8Array(16).fill(16))))).toBe("");
    for (let at = 0; at < 15; at++) {
      const block = new Uint8Array(16).fill(16);
      block[at] = 15;
      expect(outcome(() => aes256CbcDecrypt(k, v, seal(block)))).toBe("ProtocolError:invalid_ciphertext");
    }
  });
});

describe("X25519 keys: the Node path equals noble and the WebCrypto path", () => {
  it("an import reads back the real public key (not a claim) and generated pairs match noble's derivation (property)", () => {
    fc.assert(
      fc.property(bytes32, (raw) => {
        expect(bytesToHex(importX25519PrivateNode(raw).u)).toBe(bytesToHex(x25519.getPublicKey(clampPrivateKey(raw))));
      }),
      { numRuns: 100 },
    );
    for (let i = 0; i < 20; i++) {
      const { k, u } = generateX25519Node();
      expect(bytesToHex(u)).toBe(bytesToHex(x25519.getPublicKey(clampPrivateKey(k))));
    }
  });

  it("PrivateKey agree / getPublicKey and PublicKey.verifySignature answer alike with and without the Node paths (property)", async () => {
    await fc.assert(
      fc.asyncProperty(bytes32, bytes32, bytes(64), fc.boolean(), async (raw, peer, message, tamper) => {
        const run = async () => {
          const key = PrivateKey.deserialize(raw);
          let shared: string;
          try {
            shared = bytesToHex(await key.agree(PublicKey.fromPublicBytes(peer)));
          } catch (e) {
            shared = isProtocolError(e, "invalid_key") ? "invalid_key" : `other:${String(e)}`;
          }
          const signature = PrivateKey.deserialize(raw).sign(message);
          if (tamper) signature[5] = (signature[5] as number) ^ 0x10;
          const pub = PrivateKey.deserialize(raw).getPublicKey();
          return { pub: bytesToHex(pub.serialize()), shared, valid: await pub.verifySignature(message, signature) };
        };
        const viaNode = await run();
        const browserPaths = await withoutNode(run);
        expect(viaNode).toEqual(browserPaths);
        expect(viaNode.valid).toBe(!tamper);
      }),
      { numRuns: 60 },
    );
  });

  it("generated keys (Node, handed over to their next parse) agree with the same keys on the browser paths", async () => {
    for (let i = 0; i < 10; i++) {
      const a = await PrivateKey.generateAsync({ reloaded: true });
      const b = await withoutNode(() => PrivateKey.generateAsync({ reloaded: true }));
      const aAgain = PrivateKey.deserialize(a.serialize());
      const bAgain = PrivateKey.deserialize(b.serialize());
      const ab = bytesToHex(await aAgain.agree(b.getPublicKey()));
      const ba = await withoutNode(async () => bytesToHex(await bAgain.agree(a.getPublicKey())));
      expect(ab).toBe(ba);
      expect(ab).toBe(bytesToHex(x25519.getSharedSecret(a.serialize(), b.getPublicKey().publicBytes)));
    }
  });
});

describe("signing keys generated as Ed25519 keys (EN-03)", () => {
  it("sign natively; every verifier (noble, WebCrypto, node:crypto, libsignal) accepts, and refuses another message; the same key signs with XEdDSA off Node", async () => {
    const { xeddsaVerifyNative, xeddsaVerifyNode, xeddsaVerifyNoble } = await import("./xeddsa.js");
    const libsignal = await import("@signalapp/libsignal-client");
    await fc.assert(
      fc.asyncProperty(bytes(200), bytes(200), async (message, other) => {
        const key = PrivateKey.generateSigningKey();
        const u = key.getPublicKey().publicBytes;
        // The stored scalar is an ordinary clamped private key with the advertised public key.
        expect(bytesToHex(key.serialize())).toBe(bytesToHex(clampPrivateKey(key.serialize())));
        expect(bytesToHex(x25519.getPublicKey(key.serialize()))).toBe(bytesToHex(u));
        const viaNode = key.sign(message);
        const reparsed = PrivateKey.deserialize(key.serialize());
        const viaXeddsa = await withoutNode(() => reparsed.sign(message));
        const theirs = libsignal.PublicKey.deserialize(new Uint8Array(PublicKey.fromPublicBytes(u).serialize()));
        for (const sig of [viaNode, viaXeddsa]) {
          expect(xeddsaVerifyNoble(u, message, sig)).toBe(true);
          expect(xeddsaVerifyNode(u, message, sig)).toBe(true);
          expect(await xeddsaVerifyNative(u, message, sig)).toBe(true);
          expect(theirs.verify(new Uint8Array(message), new Uint8Array(sig))).toBe(true);
          const differs = bytesToHex(message) !== bytesToHex(other);
          expect(xeddsaVerifyNoble(u, other, sig)).toBe(!differs);
          expect(theirs.verify(new Uint8Array(other), new Uint8Array(sig))).toBe(!differs);
        }
        // The native signature really is the RFC 8032 one (deterministic), XEdDSA's is randomized.
        expect(bytesToHex(reparsed.sign(message))).toBe(bytesToHex(viaNode));
        expect(bytesToHex(viaXeddsa)).not.toBe(bytesToHex(viaNode));
      }),
      { numRuns: 30 },
    );
  });
});
