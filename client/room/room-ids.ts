/**
 * Room identifiers and their text forms (spec/09-rooms.md RM-01, RM-03).
 *
 * Owns: the hex id of a room, the address string of a member's identity key, and the
 * constant-time comparison of identity keys and ids. Does not own: storage keys (room-store.ts),
 * key derivation (room-keys.ts). Pure: no I/O.
 */
import { constantTimeEqual } from "../crypto/bytes.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";

/** Two lower-case hex digits per byte value: ids and keys become text on every room event. */
const HEX_DIGITS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of `bytes` (the same text as `bytesToHex`, by table lookup). */
export function hexOf(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX_DIGITS[bytes[i]!]!;
  return s;
}

/** The hex id of a room (what the facade calls `roomId`). */
export function roomHex(roomId: Uint8Array): string {
  return hexOf(roomId);
}

/** The bytes of a hex id (the caller has checked the text is hex of even length). */
export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Address strings already computed, by the identity key's hex: every room message names its
 * sender's address two or three times (event, reports, failures), each a SHA-256. The address
 * is a function of the key alone, so a remembered one is the one computing it again would give.
 * Bounded: emptied when it reaches ADDRESS_CACHE_LIMIT keys.
 */
const addresses = new Map<string, string>();
/** Keys remembered by `addrOf` (a few rooms of the largest size, RM-08). */
export const ADDRESS_CACHE_LIMIT = 4096;

/** The address string of a member's serialized identity key. */
export function addrOf(identityKey: Uint8Array): string {
  const k = hexOf(identityKey);
  let a = addresses.get(k);
  if (a === undefined) {
    a = addressToString(addressFromSerializedIdentityKey(identityKey));
    if (addresses.size >= ADDRESS_CACHE_LIMIT) addresses.clear();
    addresses.set(k, a);
  }
  return a;
}

/** Constant-time equality of two byte strings (identity keys, distribution ids, envelopes). */
export function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && constantTimeEqual(a, b);
}
