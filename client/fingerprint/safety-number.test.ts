import { readFileSync } from "node:fs";
import * as libsignal from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { KeyPair, PrivateKey } from "../crypto/curve.js";
import { addressFromIdentityKey } from "../keys/address.js";
import { compareScannable, computeSafetyNumber, formatSafetyNumber, safetyNumberForKeys } from "./safety-number.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const vectors = JSON.parse(readFileSync(new URL("../../spec/vectors/safety-number.json", import.meta.url), "utf8")) as {
  cases: { localPrivate: string; remotePrivate: string; localAddress: string; remoteAddress: string; digits: string; scannableLocal: string; scannableRemote: string }[];
};

function party() {
  const kp = KeyPair.generate();
  return { kp, address: addressFromIdentityKey(kp.publicKey), identityKey: kp.publicKey };
}

describe("ID-07 safety numbers", () => {
  it("ID-07: digits and scannable bytes equal libsignal's Fingerprint.new(5200, 2, …), both directions", () => {
    for (let i = 0; i < 4; i++) {
      const a = party();
      const b = party();
      const ours = computeSafetyNumber(a, b);
      const theirs = libsignal.Fingerprint.new(5200, 2, ab(a.address), libsignal.PublicKey.deserialize(ab(a.identityKey.serialize())), ab(b.address), libsignal.PublicKey.deserialize(ab(b.identityKey.serialize())));
      expect(ours.digits).toMatch(/^\d{60}$/);
      expect(ours.digits).toBe(theirs.displayableFingerprint().toString());
      expect(bytesToHex(ours.scannable)).toBe(bytesToHex(theirs.scannableFingerprint().toBuffer()));
      const reverse = computeSafetyNumber(b, a);
      expect(reverse.digits).toBe(ours.digits);
      const theirsReverse = libsignal.Fingerprint.new(5200, 2, ab(b.address), libsignal.PublicKey.deserialize(ab(b.identityKey.serialize())), ab(a.address), libsignal.PublicKey.deserialize(ab(a.identityKey.serialize())));
      expect(bytesToHex(reverse.scannable)).toBe(bytesToHex(theirsReverse.scannableFingerprint().toBuffer()));
      // Scanning: each side accepts the other's code, ours and libsignal's alike.
      expect(compareScannable(ours.scannable, reverse.scannable)).toBe("match");
      expect(compareScannable(ours.scannable, theirsReverse.scannableFingerprint().toBuffer())).toBe("match");
      expect(theirs.scannableFingerprint().compare(libsignal.ScannableFingerprint._fromBuffer(ab(reverse.scannable)))).toBe(true);
      // Scanning one's own code, or a third party's, is not a match.
      expect(compareScannable(ours.scannable, ours.scannable)).toBe("no_match");
      const c = party();
      expect(compareScannable(ours.scannable, computeSafetyNumber(c, a).scannable)).toBe("no_match");
    }
  });

  it("ID-07: other iteration counts also match libsignal; out-of-range counts are refused", () => {
    const a = party();
    const b = party();
    for (const n of [2, 3, 1024]) {
      const theirs = libsignal.Fingerprint.new(n, 2, ab(a.address), libsignal.PublicKey.deserialize(ab(a.identityKey.serialize())), ab(b.address), libsignal.PublicKey.deserialize(ab(b.identityKey.serialize())));
      expect(computeSafetyNumber(a, b, n).digits).toBe(theirs.displayableFingerprint().toString());
    }
    expect(() => computeSafetyNumber(a, b, 1)).toThrow(RangeError);
    expect(() => computeSafetyNumber(a, b, 1_000_001)).toThrow(RangeError);
  });

  it("ID-07: a libsignal code of another version is a version mismatch; garbage is a typed error", () => {
    const a = party();
    const b = party();
    const v1 = libsignal.Fingerprint.new(5200, 1, ab(b.address), libsignal.PublicKey.deserialize(ab(b.identityKey.serialize())), ab(a.address), libsignal.PublicKey.deserialize(ab(a.identityKey.serialize())));
    expect(compareScannable(computeSafetyNumber(a, b).scannable, v1.scannableFingerprint().toBuffer())).toBe("version_mismatch");
    expect(() => compareScannable(computeSafetyNumber(a, b).scannable, new Uint8Array([0xff, 0xff]))).toThrow(expect.objectContaining({ code: "invalid_message" }));
  });

  it("ID-07: pinned vectors (spec/vectors/safety-number.json)", () => {
    expect(vectors.cases.length).toBeGreaterThan(0);
    for (const v of vectors.cases) {
      const local = PrivateKey.deserialize(hexToBytes(v.localPrivate)).getPublicKey();
      const remote = PrivateKey.deserialize(hexToBytes(v.remotePrivate)).getPublicKey();
      expect(bytesToHex(addressFromIdentityKey(local))).toBe(v.localAddress);
      expect(bytesToHex(addressFromIdentityKey(remote))).toBe(v.remoteAddress);
      const sn = safetyNumberForKeys(local, remote);
      expect(sn.digits).toBe(v.digits);
      const theirs = libsignal.Fingerprint.new(5200, 2, ab(hexToBytes(v.localAddress)), libsignal.PublicKey.deserialize(ab(local.serialize())), ab(hexToBytes(v.remoteAddress)), libsignal.PublicKey.deserialize(ab(remote.serialize())));
      expect(theirs.displayableFingerprint().toString()).toBe(v.digits);
      expect(bytesToHex(sn.scannable)).toContain(v.scannableLocal);
      expect(bytesToHex(sn.scannable)).toContain(v.scannableRemote);
    }
  });

  it("formats as 12 groups of 5", () => {
    expect(formatSafetyNumber("0".repeat(55) + "12345")).toBe("00000 ".repeat(11) + "12345");
  });
});
