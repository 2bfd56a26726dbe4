import { createPrivateKey, createPublicKey, diffieHellman } from "node:crypto";
import { readFileSync } from "node:fs";
import * as libsignal from "@signalapp/libsignal-client";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { bytesToHex, hexToBytes } from "./bytes.js";
import { KeyPair, PrivateKey, PublicKey } from "./curve.js";
import {
  hasNativeX25519,
  importX25519PrivateNative,
  importX25519PrivateNode,
  importX25519PublicNode,
  nodeX25519 as nodeX25519Path,
  x25519AgreeNative,
  x25519AgreeNode,
  x25519AgreeNoble,
} from "./x25519.js";
import { hasNativeEd25519, nodeEd25519, xeddsaSign, xeddsaVerifyNative, xeddsaVerifyNode, xeddsaVerifyNoble } from "./xeddsa.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../spec/vectors/rfc7748.json", import.meta.url), "utf8"),
) as {
  scalarMult: { source: string; scalar: string; u: string; output: string }[];
  iterated: { start: string; after1: string; after1000: string };
  diffieHellman: Record<string, string>;
  lowOrder: { u: string[] };
};

/** libsignal's API wants ArrayBuffer-backed arrays. */
const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

async function agreeBothPaths(k: Uint8Array, u: Uint8Array): Promise<string> {
  const noble = (() => {
    try {
      return bytesToHex(x25519AgreeNoble(k, u));
    } catch (e) {
      return isProtocolError(e, "invalid_key") ? "invalid_key" : `other: ${String(e)}`;
    }
  })();
  let native: string;
  try {
    native = bytesToHex(await x25519AgreeNative(await importX25519PrivateNative(k), u));
  } catch (e) {
    native = isProtocolError(e, "invalid_key") ? "invalid_key" : `other: ${String(e)}`;
  }
  expect(native).toBe(noble);
  let viaNode: string;
  try {
    viaNode = bytesToHex(x25519AgreeNode(importX25519PrivateNode(k).key, importX25519PublicNode(u)));
  } catch (e) {
    viaNode = isProtocolError(e, "invalid_key") ? "invalid_key" : `other: ${String(e)}`;
  }
  expect(viaNode).toBe(noble);
  return noble;
}

/** X25519 through node:crypto's own key objects, independent of our code. */
function nodeX25519(k: Uint8Array, u: Uint8Array): string {
  const priv = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), k]),
    format: "der",
    type: "pkcs8",
  });
  const pub = createPublicKey({
    key: Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), u]),
    format: "der",
    type: "spki",
  });
  return diffieHellman({ privateKey: priv, publicKey: pub }).toString("hex");
}

describe("runtime detection", () => {
  it("finds WebCrypto X25519 and Ed25519 on Node 20 (the fast paths are really used here)", async () => {
    expect(await hasNativeX25519()).toBe(true);
    expect(await hasNativeEd25519()).toBe(true);
  });

  it("finds node:crypto's synchronous X25519 and Ed25519 on Node 20 and passes their self-checks", () => {
    expect(nodeX25519Path()).toBeDefined();
    expect(nodeEd25519()).toBeDefined();
  });
});

describe("X25519 (RFC 7748 vectors, spec/vectors/rfc7748.json)", () => {
  it.each(vectors.scalarMult.map((v) => [v.source, v] as const))("%s on both paths and node:crypto", async (_n, v) => {
    const k = hexToBytes(v.scalar);
    const u = hexToBytes(v.u);
    expect(await agreeBothPaths(k, u)).toBe(v.output);
    expect(nodeX25519(k, u)).toBe(v.output);
    expect(bytesToHex(await PrivateKey.deserialize(k).agree(PublicKey.fromPublicBytes(u)))).toBe(v.output);
  });

  it("iterated vector: 1 and 1000 iterations", async () => {
    let k = hexToBytes(vectors.iterated.start);
    let u = hexToBytes(vectors.iterated.start);
    for (let i = 1; i <= 1000; i++) {
      const out = await PrivateKey.deserialize(k).agree(PublicKey.fromPublicBytes(u));
      u = k;
      k = out;
      if (i === 1) expect(bytesToHex(k)).toBe(vectors.iterated.after1);
    }
    expect(bytesToHex(k)).toBe(vectors.iterated.after1000);
  });

  it("§6.1 Diffie-Hellman: public keys and shared secret", async () => {
    const dh = vectors.diffieHellman;
    const alice = PrivateKey.deserialize(hexToBytes(dh.alicePrivate as string));
    const bob = PrivateKey.deserialize(hexToBytes(dh.bobPrivate as string));
    expect(bytesToHex(alice.getPublicKey().publicBytes)).toBe(dh.alicePublic);
    expect(bytesToHex(bob.getPublicKey().publicBytes)).toBe(dh.bobPublic);
    expect(bytesToHex(await alice.agree(bob.getPublicKey()))).toBe(dh.shared);
    expect(bytesToHex(await bob.agree(alice.getPublicKey()))).toBe(dh.shared);
  });

  it("rejects every low-order point with invalid_key on both paths, as libsignal does", async () => {
    const k = PrivateKey.generate();
    const lk = libsignal.PrivateKey.deserialize(ab(k.serialize()));
    for (const hex of vectors.lowOrder.u) {
      const u = hexToBytes(hex);
      expect(await agreeBothPaths(k.serialize(), u)).toBe("invalid_key");
      await expect(k.agree(PublicKey.fromPublicBytes(u))).rejects.toSatisfy((e) => isProtocolError(e, "invalid_key"));
      expect(() => lk.agree(libsignal.PublicKey.deserialize(ab(PublicKey.fromPublicBytes(u).serialize())))).toThrow();
    }
  });

  it("native and noble paths agree on random scalars and arbitrary u (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.oneof(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.constantFrom(...vectors.lowOrder.u.map(hexToBytes)),
        ),
        async (k, u) => {
          const out = await agreeBothPaths(k, u);
          if (out !== "invalid_key") expect(out).toBe(nodeX25519(k, u));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("key encodings", () => {
  it("PublicKey round-trips 0x05 ‖ u and rejects anything else with invalid_key", () => {
    const pub = KeyPair.generate().publicKey;
    const bytes = pub.serialize();
    expect(bytes.length).toBe(33);
    expect(bytes[0]).toBe(0x05);
    expect(PublicKey.deserialize(bytes).equals(pub)).toBe(true);
    expect(bytesToHex(pub.publicBytes)).toBe(bytesToHex(bytes.subarray(1)));
    for (const bad of [bytes.subarray(0, 32), new Uint8Array([...bytes, 0]), new Uint8Array(0), Uint8Array.from(bytes).fill(0x06, 0, 1)]) {
      expect(() => PublicKey.deserialize(bad)).toThrow(expect.objectContaining({ code: "invalid_key" }));
    }
    expect(PublicKey.deserialize(bytes).equals(KeyPair.generate().publicKey)).toBe(false);
  });

  it("PrivateKey clamps like libsignal and derives the same public key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (raw) => {
        const ours = PrivateKey.deserialize(raw);
        const theirs = libsignal.PrivateKey.deserialize(ab(raw));
        expect(bytesToHex(ours.serialize())).toBe(bytesToHex(theirs.serialize()));
        expect(bytesToHex(ours.getPublicKey().serialize())).toBe(bytesToHex(theirs.getPublicKey().serialize()));
      }),
      { numRuns: 40 },
    );
    expect(() => PrivateKey.deserialize(new Uint8Array(31))).toThrow(expect.objectContaining({ code: "invalid_key" }));
  });
});

describe("X25519 differential against libsignal", () => {
  it("agree equals libsignal's agree in both directions", async () => {
    for (let i = 0; i < 30; i++) {
      const ours = KeyPair.generate();
      const theirs = libsignal.PrivateKey.generate();
      const theirPub = PublicKey.deserialize(theirs.getPublicKey().serialize());
      const a = await ours.privateKey.agree(theirPub);
      const b = theirs.agree(libsignal.PublicKey.deserialize(ab(ours.publicKey.serialize())));
      expect(bytesToHex(a)).toBe(bytesToHex(b));
    }
  });
});

describe("XEdDSA", () => {
  it("our signatures verify in libsignal and libsignal's verify with ours, both sign bits", async () => {
    const seenBits = new Set<number>();
    for (let i = 0; i < 60; i++) {
      const ours = KeyPair.generate();
      const theirs = libsignal.PrivateKey.generate();
      const msg = new Uint8Array(i * 7).fill(i);
      const ourSig = ours.privateKey.sign(msg);
      expect(ourSig.length).toBe(64);
      seenBits.add((ourSig[63] as number) >> 7);
      expect(libsignal.PublicKey.deserialize(ab(ours.publicKey.serialize())).verify(ab(msg), ab(ourSig))).toBe(true);
      expect(await ours.publicKey.verifySignature(msg, ourSig)).toBe(true);

      const theirSig = theirs.sign(ab(msg));
      seenBits.add((theirSig[63] as number) >> 7);
      const theirPub = PublicKey.deserialize(theirs.getPublicKey().serialize());
      expect(await theirPub.verifySignature(msg, theirSig)).toBe(true);
      expect(xeddsaVerifyNoble(theirPub.publicBytes, msg, theirSig)).toBe(true);
      // A signature under another key or over another message fails.
      expect(await ours.publicKey.verifySignature(msg, theirSig)).toBe(false);
      expect(await theirPub.verifySignature(new Uint8Array([...msg, 1]), theirSig)).toBe(false);
    }
    expect(seenBits).toEqual(new Set([0, 1]));
  });

  it("signing is randomised (fresh Z) yet both signatures verify", async () => {
    const kp = KeyPair.generate();
    const m = new Uint8Array([1, 2, 3]);
    const a = kp.privateKey.sign(m);
    const b = kp.privateKey.sign(m);
    expect(bytesToHex(a)).not.toBe(bytesToHex(b));
    expect(await kp.publicKey.verifySignature(m, a)).toBe(true);
    expect(await kp.publicKey.verifySignature(m, b)).toBe(true);
  });

  it("native and noble verification give identical answers to each other and to libsignal (property, incl. garbage)", async () => {
    const specialU = vectors.lowOrder.u.map(hexToBytes);
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 48 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.constantFrom("valid", "flip", "garbage", "garbage-small-s", "s-plus-L", "special-u"),
        fc.nat(511),
        fc.integer({ min: 0, max: specialU.length - 1 }),
        async (raw, msg, garbage, mode, bitPos, specialIndex) => {
          const k = PrivateKey.deserialize(raw);
          let u = k.getPublicKey().publicBytes;
          let sig = xeddsaSign(k.serialize(), msg, garbage);
          if (mode === "flip") {
            sig[bitPos >> 3] = (sig[bitPos >> 3] as number) ^ (1 << (bitPos & 7));
          } else if (mode === "garbage") {
            sig = Uint8Array.from(garbage);
          } else if (mode === "garbage-small-s") {
            sig = Uint8Array.from(garbage);
            sig[63] = (sig[63] as number) & 0x8f;
          } else if (mode === "s-plus-L") {
            // s + L < 2^253 is accepted by libsignal (checked below), so it must be by us too.
            const L = 2n ** 252n + 27742317777372353535851937790883648493n;
            let s = 0n;
            for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt((sig[32 + i] as number) & (i === 31 ? 0x7f : 0xff));
            s += L;
            const bit = (sig[63] as number) & 0x80;
            for (let i = 0; i < 32; i++) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
            sig[63] = (sig[63] as number) | bit;
          } else if (mode === "special-u") {
            u = specialU[specialIndex] as Uint8Array;
            sig = Uint8Array.from(garbage);
          }
          const noble = xeddsaVerifyNoble(u, msg, sig);
          const native = await xeddsaVerifyNative(u, msg, sig);
          expect(xeddsaVerifyNode(u, msg, sig)).toBe(noble);
          const theirs = libsignal.PublicKey.deserialize(ab(PublicKey.fromPublicBytes(u).serialize())).verify(ab(msg), ab(sig));
          expect(native).toBe(noble);
          expect(noble).toBe(theirs);
          if (mode === "valid" || mode === "s-plus-L") expect(noble).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("one PublicKey object (its Edwards keys imported once, per sign bit) answers every signature as noble and libsignal do, before and after a valid one (property)", async () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const mutations = ["valid", "flip", "other-sign-bit", "s-plus-L", "s-high-bit", "other-message", "other-key"] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(fc.record({ mutation: fc.constantFrom(...mutations), bit: fc.nat(511), msg: fc.uint8Array({ maxLength: 40 }) }), { minLength: 1, maxLength: 12 }),
        async (raw, steps) => {
          const k = PrivateKey.deserialize(raw);
          const other = PrivateKey.generate();
          const u = k.getPublicKey().publicBytes;
          const shared = PublicKey.fromPublicBytes(u);
          const theirs = libsignal.PublicKey.deserialize(ab(shared.serialize()));
          for (const { mutation, bit, msg } of steps) {
            let sig = k.sign(msg);
            let signed = msg;
            if (mutation === "flip") sig[bit >> 3] = (sig[bit >> 3] as number) ^ (1 << (bit & 7));
            else if (mutation === "other-sign-bit") sig[63] = (sig[63] as number) ^ 0x80;
            else if (mutation === "other-message") signed = new Uint8Array([...msg, 1]);
            else if (mutation === "other-key") sig = other.sign(msg);
            else if (mutation === "s-plus-L" || mutation === "s-high-bit") {
              // s + L (< 2^253) is accepted by libsignal; s + kL for k = 2..6 is the same point
              // but at or above 2^253 (still below the sign bit), which libsignal refuses.
              let sv = 0n;
              for (let i = 31; i >= 0; i--) sv = (sv << 8n) | BigInt((sig[32 + i] as number) & (i === 31 ? 0x7f : 0xff));
              sv += (mutation === "s-plus-L" ? 1n : BigInt(2 + (bit % 5))) * L;
              const signBit = (sig[63] as number) & 0x80;
              for (let i = 0; i < 32; i++) sig[32 + i] = Number((sv >> BigInt(8 * i)) & 0xffn);
              sig[63] = (sig[63] as number) | signBit;
            }
            const noble = xeddsaVerifyNoble(u, signed, sig);
            expect([mutation, await shared.verifySignature(signed, sig)]).toEqual([mutation, noble]);
            expect(theirs.verify(ab(signed), ab(sig))).toBe(noble);
            if (mutation === "valid" || mutation === "s-plus-L") expect(noble).toBe(true);
            if (mutation === "other-key" || mutation === "other-message" || mutation === "other-sign-bit" || mutation === "s-high-bit") expect(noble).toBe(false);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("never throws on malformed signatures; resolves false", async () => {
    const pub = KeyPair.generate().publicKey;
    for (const sig of [new Uint8Array(0), new Uint8Array(63), new Uint8Array(65), new Uint8Array(64).fill(0xff)]) {
      expect(await pub.verifySignature(new Uint8Array(1), sig)).toBe(false);
      expect(xeddsaVerifyNoble(pub.publicBytes, new Uint8Array(1), sig)).toBe(false);
    }
  });
});
