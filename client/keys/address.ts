/**
 * Account addresses derived from identity keys (spec ID-03).
 *
 * Owns: the address function `SHA-256("SecureComm address v1" ‖ identityKey33)[0..16]`, its
 * lower-case hyphenated UUID text form and the strict parser of that form.
 * Does not own: deciding whom to trust (client/session, client/store).
 */
import { ProtocolError } from "../errors.js";
import { bytesToHex, concatBytes, constantTimeEqual, hexToBytes, utf8 } from "../crypto/bytes.js";
import type { PublicKey } from "../crypto/curve.js";
import { sha256 } from "../crypto/kdf.js";

/** Domain-separation label of the address hash (spec ID-03). */
export const ADDRESS_LABEL = utf8("SecureComm address v1");
/** Address length in bytes: a UUID's worth, so it fits libsignal's sender-uuid fields. */
export const ADDRESS_LENGTH = 16;

/** Matches the only accepted text form: 8-4-4-4-12 lower-case hex digits. */
const ADDRESS_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 16-byte address of an identity key (spec ID-03). */
export function addressFromIdentityKey(identityKey: PublicKey): Uint8Array {
  return addressFromSerializedIdentityKey(identityKey.serialize());
}

/**
 * The address of a 33-byte serialized identity key (spec ID-03); the caller has checked it is
 * a valid key encoding (RangeError on another length: misuse).
 */
export function addressFromSerializedIdentityKey(identityKey33: Uint8Array): Uint8Array {
  if (identityKey33.length !== 33) throw new RangeError("identity key must be 33 bytes");
  return sha256(concatBytes(ADDRESS_LABEL, identityKey33)).slice(0, ADDRESS_LENGTH);
}

/** The UUID text form of a 16-byte address: lower-case, hyphenated 8-4-4-4-12 (spec ID-03). */
export function addressToString(address: Uint8Array): string {
  if (address.length !== ADDRESS_LENGTH) throw new RangeError("address must be 16 bytes");
  const h = bytesToHex(address);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Parses the UUID text form (lower-case only, spec ID-03) into 16 bytes; anything else →
 * `ProtocolError("invalid_message")`.
 */
export function parseAddress(text: string): Uint8Array {
  if (typeof text !== "string" || !ADDRESS_TEXT.test(text)) throw new ProtocolError("invalid_message");
  return hexToBytes(text.replaceAll("-", ""));
}

/** Byte comparison of two addresses (spec ID-03: addresses compare as bytes). */
export function addressEquals(a: Uint8Array, b: Uint8Array): boolean {
  return constantTimeEqual(a, b);
}
