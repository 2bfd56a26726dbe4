/**
 * Input validation shared by the services: exact byte lengths and key type bytes. Each check
 * throws the matching relay error (invalid_argument) before any state is touched.
 */
import { relayError, type RelayErrorReason } from "../errors.js";

/** Identity and EC prekey length: 0x05 ‖ 32-byte u (SIGNAL-FACTS "Keys"). */
export const EC_PUBLIC_KEY_BYTES = 33;
/** Type byte of Curve25519 public keys. */
export const EC_KEY_TYPE = 0x05;
/** Kyber1024 public key length: 0x08 ‖ 1568 bytes. */
export const KYBER_PUBLIC_KEY_BYTES = 1569;
/** Type byte of Kyber1024 (round 3) keys. */
export const KYBER_KEY_TYPE = 0x08;
/** XEdDSA signature length. */
export const SIGNATURE_BYTES = 64;
/** Account address length (spec ID-03). */
export const ADDRESS_BYTES = 16;
/** Room id length (spec/09-rooms.md). */
export const ROOM_ID_BYTES = 16;
/** SHA-256 length. */
export const HASH_BYTES = 32;
/**
 * Largest invite box (API-40, RM-51): nonce 12 + tag 16 + an InviteBox (a 32-byte secret and an
 * epoch, under 45 bytes) needs under 80; 256 leaves room for fields a later version adds while
 * keeping one room's box a trivial amount of storage.
 */
export const MAX_INVITE_BOX_BYTES = 256;
/** Largest registration id libsignal accepts. */
export const MAX_REGISTRATION_ID = 16_380;

/** Throws `reason` unless `value` has exactly `length` bytes. */
export function requireLength(value: Uint8Array, length: number, reason: RelayErrorReason): void {
  if (value.length !== length) throw relayError(reason);
}

/** Throws BAD_IDENTITY_KEY unless `key` is a 33-byte 0x05 key. */
export function requireIdentityKey(key: Uint8Array): void {
  if (key.length !== EC_PUBLIC_KEY_BYTES || key[0] !== EC_KEY_TYPE) throw relayError("BAD_IDENTITY_KEY");
}

/** Throws EMPTY_ENVELOPE or ENVELOPE_TOO_LARGE. */
export function requireEnvelope(envelope: Uint8Array, maxBytes: number): void {
  if (envelope.length === 0) throw relayError("EMPTY_ENVELOPE");
  if (envelope.length > maxBytes) throw relayError("ENVELOPE_TOO_LARGE");
}
