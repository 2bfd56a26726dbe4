/**
 * The SignalMessage MAC (message version 4).
 *
 * Owns: computing and checking the 8-byte truncated `HMAC-SHA256(macKey, senderIdentity33 ‖
 * receiverIdentity33 ‖ version ‖ protobuf)` (spec DR-11). The check is constant-time.
 * Does not own: deriving the MAC key (kdf-chains.ts).
 */

import { constantTimeEqual } from "../crypto/bytes.js";
import { hmacSha256Parts } from "../crypto/kdf.js";
import { ProtocolError } from "../errors.js";
import { MAC_LENGTH } from "./constants.js";

/** The truncated MAC of a SignalMessage body (spec DR-11). */
export function computeMac(
  macKey: Uint8Array,
  senderIdentity: Uint8Array,
  receiverIdentity: Uint8Array,
  macInput: Uint8Array,
): Uint8Array {
  return hmacSha256Parts(macKey, [senderIdentity, receiverIdentity, macInput]).slice(0, MAC_LENGTH);
}

/** Checks a received MAC in constant time; throws ProtocolError "bad_mac" on mismatch (spec DR-11). */
export function verifyMac(
  macKey: Uint8Array,
  senderIdentity: Uint8Array,
  receiverIdentity: Uint8Array,
  macInput: Uint8Array,
  mac: Uint8Array,
): void {
  const expected = computeMac(macKey, senderIdentity, receiverIdentity, macInput);
  if (!constantTimeEqual(expected, mac)) throw new ProtocolError("bad_mac");
}
