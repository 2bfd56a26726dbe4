/**
 * Safety numbers (spec ID-07): Signal's numeric fingerprint over our addresses and identity
 * keys, in displayable (60 digits) and scannable (QR payload) forms.
 *
 * Owns: the iterated SHA-512 per party, the digit encoding, the scannable
 * `securecomm.wire.v1.ScannableFingerprint` bytes and comparing a scanned code.
 * Does not own: marking identities verified (client/store), rendering QR codes (web/).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeStrict } from "../crypto/proto-strict.js";
import {
  LogicalFingerprintSchema,
  ScannableFingerprintSchema,
} from "../../gen/securecomm/wire/v1/fingerprint_pb.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual } from "../crypto/bytes.js";
import type { PublicKey } from "../crypto/curve.js";
import { sha512 } from "../crypto/kdf.js";
import { addressFromIdentityKey } from "../keys/address.js";

/** Iterations of the fingerprint hash (spec ID-07; Signal's value, cost ~ a few ms). */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** Accepted iteration range where the count is a parameter (spec ID-07, as libsignal). */
export const MIN_ITERATIONS = 2;
export const MAX_ITERATIONS = 1_000_000;
/** Scannable-format version (spec ID-07: 2, the version Signal uses for UUID identifiers). */
export const SCANNABLE_VERSION = 2;
/** Fingerprint-hash format version, the two bytes 0x00 0x00 that start H_1 (spec ID-07). */
const HASH_VERSION = new Uint8Array([0x00, 0x00]);
/** Bytes of each party's hash that go into the scannable form. */
const SCANNABLE_CONTENT_LENGTH = 32;
/** Digits per party: six 5-digit groups. */
const GROUPS_PER_PARTY = 6;

/** One party's inputs: its 16-byte address and identity key. */
export interface FingerprintParty {
  readonly address: Uint8Array;
  readonly identityKey: PublicKey;
}

/** A safety number between a local and a remote party. */
export interface SafetyNumber {
  /** 60 digits, the same on both sides (spec ID-07). */
  readonly digits: string;
  /** Serialized ScannableFingerprint from the local party's point of view. */
  readonly scannable: Uint8Array;
}

function iteratedHash(identifier: Uint8Array, key33: Uint8Array, iterations: number): Uint8Array {
  let h = sha512(concatBytes(HASH_VERSION, key33, identifier, key33));
  for (let i = 1; i < iterations; i++) h = sha512(concatBytes(h, key33));
  return h;
}

function digitsOf(h: Uint8Array): string {
  let out = "";
  for (let j = 0; j < GROUPS_PER_PARTY; j++) {
    let v = 0;
    // 5 bytes big-endian (< 2^40, exact in a double).
    for (let b = 0; b < 5; b++) v = v * 256 + (h[5 * j + b] as number);
    out += String(v % 100000).padStart(5, "0");
  }
  return out;
}

/**
 * Computes the safety number for `local` and `remote` (spec ID-07). Identifiers are the
 * parties' 16 address bytes; `iterations` defaults to 5200 and must be in 2..1,000,000.
 */
export function computeSafetyNumber(
  local: FingerprintParty,
  remote: FingerprintParty,
  iterations: number = SAFETY_NUMBER_ITERATIONS,
): SafetyNumber {
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new RangeError("iterations out of range");
  }
  const localHash = iteratedHash(local.address, local.identityKey.serialize(), iterations);
  const remoteHash = iteratedHash(remote.address, remote.identityKey.serialize(), iterations);
  const a = digitsOf(localHash);
  const b = digitsOf(remoteHash);
  const scannable = toBinary(
    ScannableFingerprintSchema,
    create(ScannableFingerprintSchema, {
      version: SCANNABLE_VERSION,
      localFingerprint: create(LogicalFingerprintSchema, { content: localHash.slice(0, SCANNABLE_CONTENT_LENGTH) }),
      remoteFingerprint: create(LogicalFingerprintSchema, { content: remoteHash.slice(0, SCANNABLE_CONTENT_LENGTH) }),
    }),
  );
  return { digits: a < b ? a + b : b + a, scannable };
}

/** Convenience: the safety number of two identity keys, with addresses derived (spec ID-03). */
export function safetyNumberForKeys(localKey: PublicKey, remoteKey: PublicKey): SafetyNumber {
  return computeSafetyNumber(
    { address: addressFromIdentityKey(localKey), identityKey: localKey },
    { address: addressFromIdentityKey(remoteKey), identityKey: remoteKey },
  );
}

/** The 60 digits as 12 space-separated groups of 5, as clients display them. */
export function formatSafetyNumber(digits: string): string {
  return (digits.match(/.{1,5}/g) ?? []).join(" ");
}

/** Outcome of comparing a scanned code (spec ID-07). */
export type ScanResult = "match" | "no_match" | "version_mismatch";

/**
 * Compares a peer's scanned ScannableFingerprint with ours (spec ID-07): the version must be 2,
 * the scanned local part must equal our remote part and the scanned remote part our local
 * part (constant-time). Undecodable input → `ProtocolError("invalid_message")`.
 */
export function compareScannable(ours: Uint8Array, scanned: Uint8Array): ScanResult {
  const parse = (bytes: Uint8Array) => {
    try {
      return decodeStrict(ScannableFingerprintSchema, bytes);
    } catch {
      throw new ProtocolError("invalid_message");
    }
  };
  const mine = parse(ours);
  const theirs = parse(scanned);
  if (theirs.version !== SCANNABLE_VERSION || mine.version !== SCANNABLE_VERSION) return "version_mismatch";
  const myLocal = mine.localFingerprint?.content ?? new Uint8Array(0);
  const myRemote = mine.remoteFingerprint?.content ?? new Uint8Array(0);
  const theirLocal = theirs.localFingerprint?.content ?? new Uint8Array(1);
  const theirRemote = theirs.remoteFingerprint?.content ?? new Uint8Array(1);
  const ok = constantTimeEqual(theirLocal, myRemote) && constantTimeEqual(theirRemote, myLocal);
  return ok && myLocal.length === SCANNABLE_CONTENT_LENGTH ? "match" : "no_match";
}
