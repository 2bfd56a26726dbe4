import { x25519 } from "@noble/curves/ed25519.js";
import * as libsignal from "@signalapp/libsignal-client";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { bytesToHex, hexToBytes } from "./bytes.js";
import { KeyPair, PrivateKey, PublicKey, clampPrivateKey } from "./curve.js";
import { sha256 } from "./kdf.js";
import { PUBLIC_HALF_CACHE_LIMIT, lookupPublicHalf, publicHalfId, rememberPublicHalf } from "./public-half-cache.js";
import {
  generateX25519Native,
  importX25519PrivateJwk,
  importX25519PrivateWithPublic,
  jwkImportChecksPublicKey,
  x25519AgreeNoble,
} from "./x25519.js";
import { xeddsaSigningKey, xeddsaVerifyNoble } from "./xeddsa.js";

/** libsignal's API wants ArrayBuffer-backed arrays. */
const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** RFC 7748 §6.1 low-order u-coordinates (a selection; curve.test.ts runs the full list). */
const LOW_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
].map(hexToBytes);

/** The portable answer: noble's X25519 on the clamped scalar, or "invalid_key". */
function portableAgree(k: Uint8Array, u: Uint8Array): string {
  try {
    return bytesToHex(x25519AgreeNoble(clampPrivateKey(k), u));
  } catch (e) {
    return isProtocolError(e, "invalid_key") ? "invalid_key" : `other: ${String(e)}`;
  }
}

async function fastAgree(key: PrivateKey, u: Uint8Array): Promise<string> {
  try {
    return bytesToHex(await key.agree(PublicKey.fromPublicBytes(u)));
  } catch (e) {
    return isProtocolError(e, "invalid_key") ? "invalid_key" : `other: ${String(e)}`;
  }
}

/** The public key libsignal derives for raw private bytes (independent of our code). */
function libsignalPublic(raw: Uint8Array): string {
  return bytesToHex(libsignal.PrivateKey.deserialize(ab(raw)).getPublicKey().serialize());
}

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe("native key plumbing (detection)", () => {
  it("Node 20 checks JWK key pairs, so claimed public keys are proven by the import (fast path really used)", async () => {
    expect(await jwkImportChecksPublicKey()).toBe(true);
  });

  it("reads back the RFC 7748 §6.1 public key and refuses a JWK pair that does not match", async () => {
    const alice = hexToBytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const { u } = await importX25519PrivateWithPublic(alice);
    expect(bytesToHex(u)).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    await expect(importX25519PrivateJwk(alice, u)).resolves.toBeDefined();
    const wrong = Uint8Array.from(u);
    wrong[0] = (wrong[0] as number) ^ 1;
    await expect(importX25519PrivateJwk(alice, wrong)).rejects.toBeDefined();
  });
});

describe("fast paths equal the portable path (properties)", () => {
  it("deserializeWithClaimedPublicKey: any claim (right, wrong, malformed) gives noble's agreement and libsignal's public key", async () => {
    await fc.assert(
      fc.asyncProperty(
        bytes32,
        fc.oneof(bytes32, fc.constantFrom(...LOW_ORDER)),
        fc.constantFrom("right", "other key", "random", "bad type", "short"),
        bytes32,
        async (raw, peerU, claimKind, other) => {
          const right = hexToBytes(libsignalPublic(raw));
          const claim =
            claimKind === "right"
              ? right
              : claimKind === "other key"
                ? hexToBytes(libsignalPublic(other))
                : claimKind === "random"
                  ? Uint8Array.of(0x05, ...other)
                  : claimKind === "bad type"
                    ? Uint8Array.of(0x06, ...right.subarray(1))
                    : right.subarray(0, 32);
          const key = PrivateKey.deserializeWithClaimedPublicKey(raw, claim);
          expect(await fastAgree(key, peerU)).toBe(portableAgree(raw, peerU));
          expect(bytesToHex(key.getPublicKey().serialize())).toBe(bytesToHex(right));
          expect(bytesToHex(key.serialize())).toBe(bytesToHex(clampPrivateKey(raw)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("getPublicKeyAsync (read back from WebCrypto) equals the noble derivation and libsignal's", async () => {
    await fc.assert(
      fc.asyncProperty(bytes32, async (raw) => {
        const viaNative = await PrivateKey.deserialize(raw).getPublicKeyAsync();
        expect(bytesToHex(viaNative.publicBytes)).toBe(bytesToHex(x25519.getPublicKey(clampPrivateKey(raw))));
        expect(bytesToHex(viaNative.serialize())).toBe(libsignalPublic(raw));
        expect(bytesToHex(PrivateKey.deserialize(raw).getPublicKey().serialize())).toBe(libsignalPublic(raw));
      }),
      { numRuns: 40 },
    );
  });

  it("generateAsync: clamped scalar whose public key and agreements equal noble's and libsignal's", async () => {
    for (let i = 0; i < 25; i++) {
      const pair = await KeyPair.generateAsync();
      const k = pair.privateKey.serialize();
      expect(bytesToHex(k)).toBe(bytesToHex(clampPrivateKey(k)));
      expect(bytesToHex(pair.publicKey.serialize())).toBe(libsignalPublic(k));
      expect(pair.privateKey.getPublicKey().equals(pair.publicKey)).toBe(true);
      const theirs = libsignal.PrivateKey.generate();
      const theirU = theirs.getPublicKey().serialize().subarray(1);
      expect(await fastAgree(pair.privateKey, theirU)).toBe(portableAgree(k, theirU));
      const back = theirs.agree(libsignal.PublicKey.deserialize(ab(pair.publicKey.serialize())));
      expect(await fastAgree(pair.privateKey, theirU)).toBe(bytesToHex(back));
      for (const u of LOW_ORDER) expect(await fastAgree(pair.privateKey, u)).toBe("invalid_key");
    }
  });

  it("generateAsync({ reloaded: true }): the key parsed again (handed-over native key, then imports) agrees as noble and libsignal", async () => {
    const pairs = await Promise.all(Array.from({ length: 80 }, () => PrivateKey.generateAsync({ reloaded: true })));
    for (const [i, generated] of pairs.entries()) {
      // Beyond the handover limit the oldest ones were dropped: those take the import path.
      const k = generated.serialize();
      const claimed = generated.getPublicKey().serialize();
      expect(bytesToHex(claimed)).toBe(libsignalPublic(k));
      const theirs = libsignal.PrivateKey.generate();
      const theirU = theirs.getPublicKey().serialize().subarray(1);
      for (let parse = 0; parse < 2; parse++) {
        const reloaded = PrivateKey.deserializeWithClaimedPublicKey(k, claimed);
        expect(await fastAgree(reloaded, theirU)).toBe(portableAgree(k, theirU));
        expect(bytesToHex(reloaded.getPublicKey().serialize())).toBe(bytesToHex(claimed));
      }
      if (i % 20 === 0) {
        const plain = PrivateKey.deserialize(k);
        expect(await fastAgree(plain, LOW_ORDER[0] as Uint8Array)).toBe("invalid_key");
      }
    }
  });

  it("generateX25519Native returns a scalar whose noble public key is the one returned", async () => {
    for (let i = 0; i < 10; i++) {
      const { k, u } = await generateX25519Native();
      expect(bytesToHex(x25519.getPublicKey(k))).toBe(bytesToHex(u));
    }
  });

  it("signing with the remembered Edwards key gives signatures libsignal and noble accept, and the remembered A is aB", async () => {
    await fc.assert(
      fc.asyncProperty(bytes32, fc.uint8Array({ maxLength: 80 }), async (raw, message) => {
        const first = PrivateKey.deserialize(raw);
        first.sign(message); // derives A and remembers it
        const k = clampPrivateKey(raw);
        const remembered = lookupPublicHalf(publicHalfId(k))?.a;
        expect(remembered && bytesToHex(remembered)).toBe(bytesToHex(xeddsaSigningKey(k).aBytes));
        const second = PrivateKey.deserialize(raw); // a fresh object: A comes from the cache
        const signature = second.sign(message);
        const u = second.getPublicKey().publicBytes;
        expect(xeddsaVerifyNoble(u, message, signature)).toBe(true);
        expect(await second.getPublicKey().verifySignature(message, signature)).toBe(true);
        const theirs = libsignal.PublicKey.deserialize(ab(second.getPublicKey().serialize()));
        expect(theirs.verify(ab(message), ab(signature))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });
});

describe("public-half cache", () => {
  it("keys entries by a domain-separated hash, never by the private key itself", () => {
    const k = clampPrivateKey(new Uint8Array(32).fill(7));
    const id = publicHalfId(k);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).not.toContain(bytesToHex(k));
    expect(id).not.toBe(bytesToHex(sha256(k)));
    expect(publicHalfId(Uint8Array.from(k))).toBe(id);
  });

  it("merges partial entries, hands out copies, and drops the oldest beyond the limit", () => {
    const ids = Array.from({ length: PUBLIC_HALF_CACHE_LIMIT + 1 }, (_, i) => publicHalfId(Uint8Array.of(0xca, 0xfe, i & 0xff, i >> 8)));
    const first = ids[0] as string;
    rememberPublicHalf(first, { u: new Uint8Array(32).fill(1) });
    rememberPublicHalf(first, { a: new Uint8Array(32).fill(2) });
    const got = lookupPublicHalf(first);
    expect(got?.u?.[0]).toBe(1);
    expect(got?.a?.[0]).toBe(2);
    got?.u?.fill(9);
    expect(lookupPublicHalf(first)?.u?.[0]).toBe(1);
    for (const id of ids.slice(1)) rememberPublicHalf(id, { u: new Uint8Array(32) });
    expect(lookupPublicHalf(first)).toBeUndefined();
    expect(lookupPublicHalf(ids[ids.length - 1] as string)).toBeDefined();
  });
});
