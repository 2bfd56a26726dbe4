/**
 * Binding of a remote address to its identity key.
 *
 * Owns: the check that a ProtocolAddress's name is the address of the identity key a bundle or
 * PreKey message presents (spec ID-03, ID-11): since SecureComm addresses are a hash of the
 * identity key, a different key for a known address is a forgery, never a key change.
 * Does not own: computing addresses (client/keys/address.ts) or trust decisions of the user.
 */

import { constantTimeEqual } from "../crypto/bytes.js";
import { ProtocolError } from "../errors.js";
import { addressFromSerializedIdentityKey } from "../keys/address.js";
import { type ProtocolAddress, uuidToBytes } from "../store/protocol-address.js";

/**
 * Throws ProtocolError "untrusted_identity" unless `address.name` is the address of
 * `identityKey33` (spec ID-03, ID-11).
 */
export function checkAddressBinding(address: ProtocolAddress, identityKey33: Uint8Array): void {
  if (identityKey33.length !== 33) throw new ProtocolError("invalid_key");
  if (!constantTimeEqual(uuidToBytes(address.name), addressFromSerializedIdentityKey(identityKey33))) {
    throw new ProtocolError("untrusted_identity");
  }
}
