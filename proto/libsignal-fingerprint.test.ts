// The securecomm.wire.v1 ScannableFingerprint schema decodes the scannable safety number
// @signalapp/libsignal-client 0.103.0 (the test oracle) produces (spec/03-identity-and-prekeys.md
// ID-07): version, local and remote fingerprints, no unknown fields; each fingerprint's content is
// the first 32 bytes of the party's iterated SHA-512 as SIGNAL-FACTS.md states it.

import { describe, expect, it } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { Fingerprint, IdentityKeyPair } from "@signalapp/libsignal-client";
import type { PublicKey } from "@signalapp/libsignal-client";
import { ScannableFingerprintSchema } from "../gen/securecomm/wire/v1/fingerprint_pb.js";
import { decodeStrict, sameBytes } from "./testing/strict-decode.js";

/** Signal's safety-number iteration count (SIGNAL-FACTS.md, Safety numbers). */
const ITERATIONS = 5200;
/** Scannable format version passed to libsignal and expected back in the protobuf. */
const SCANNABLE_VERSION = 2;
/** Bytes of each party's hash that the scannable form carries. */
const SCANNABLE_CONTENT_LENGTH = 32;
/** Party identifier length: a SecureComm address is 16 bytes (spec ID-03, ID-07). */
const IDENTIFIER_LENGTH = 16;

/** One party's iterated hash (ID-07): H1 = SHA-512(0x0000 ‖ key ‖ id ‖ key), Hi = SHA-512(Hi-1 ‖ key), i ≤ 5200. */
function iteratedHash(identifier: Uint8Array, key: PublicKey): Uint8Array {
  const keyBytes = key.serialize();
  let hash = createHash("sha512").update(Uint8Array.of(0, 0)).update(keyBytes).update(identifier).update(keyBytes).digest();
  for (let i = 1; i < ITERATIONS; i++) hash = createHash("sha512").update(hash).update(keyBytes).digest();
  return Uint8Array.from(hash);
}

describe("libsignal scannable fingerprint decodes with securecomm.wire.v1", () => {
  const local = IdentityKeyPair.generate();
  const remote = IdentityKeyPair.generate();
  const localId = Uint8Array.from(randomBytes(IDENTIFIER_LENGTH));
  const remoteId = Uint8Array.from(randomBytes(IDENTIFIER_LENGTH));

  it("ID-07 ScannableFingerprint: version, local and remote content, no unknown fields", () => {
    const bytes = Fingerprint.new(ITERATIONS, SCANNABLE_VERSION, localId, local.publicKey, remoteId, remote.publicKey)
      .scannableFingerprint()
      .toBuffer();
    const scannable = decodeStrict(ScannableFingerprintSchema, bytes);
    expect(scannable.version).toBe(SCANNABLE_VERSION);
    const localContent = scannable.localFingerprint?.content;
    const remoteContent = scannable.remoteFingerprint?.content;
    expect(localContent).toHaveLength(SCANNABLE_CONTENT_LENGTH);
    expect(remoteContent).toHaveLength(SCANNABLE_CONTENT_LENGTH);
    expect(sameBytes(localContent, iteratedHash(localId, local.publicKey).subarray(0, SCANNABLE_CONTENT_LENGTH))).toBe(true);
    expect(sameBytes(remoteContent, iteratedHash(remoteId, remote.publicKey).subarray(0, SCANNABLE_CONTENT_LENGTH))).toBe(true);
    expect(sameBytes(toBinary(ScannableFingerprintSchema, scannable), bytes)).toBe(true);

    // The other side's view swaps local and remote.
    const mirrored = decodeStrict(
      ScannableFingerprintSchema,
      Fingerprint.new(ITERATIONS, SCANNABLE_VERSION, remoteId, remote.publicKey, localId, local.publicKey)
        .scannableFingerprint()
        .toBuffer(),
    );
    expect(sameBytes(mirrored.localFingerprint?.content, remoteContent)).toBe(true);
    expect(sameBytes(mirrored.remoteFingerprint?.content, localContent)).toBe(true);
  });
});
