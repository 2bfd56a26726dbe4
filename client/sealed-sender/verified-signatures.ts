/**
 * Remembering which certificate signatures already verified (spec SS-05).
 *
 * Owns: `verifySignatureOnce`, XEdDSA verification whose positive answers are remembered in a
 * bounded process-wide set. Every sealed-sender envelope carries its sender's certificate, and
 * with it the same server certificate: without this, opening each envelope verifies the same
 * two signatures over the same bytes again (two thirds of the signature work of an open).
 * Only successes are kept, under SHA-256(label ‖ key ‖ length ‖ message ‖ signature): the
 * answer for those exact inputs can never change, so the result is identical to verifying.
 * Public data only. Expiry, revocation and address checks are not cached (certificates.ts
 * makes them on every validation).
 * Does not own: the verification itself (client/crypto/curve.ts).
 */
import { be32, concatBytes, utf8 } from "../crypto/bytes.js";
import type { PublicKey } from "../crypto/curve.js";
import { sha256 } from "../crypto/kdf.js";

/** Domain separation of the remembered-signature identifiers. */
const VERIFIED_SIGNATURE_LABEL = utf8("SecureComm verified certificate signature v1");

/**
 * Remembered successes. A client sees one server certificate per relay key rotation and one
 * sender certificate per correspondent per validity period: 1024 covers large rooms; the
 * oldest entry is dropped first.
 */
export const VERIFIED_SIGNATURE_CACHE_LIMIT = 1024;

const verified = new Set<string>();

function signatureId(key: PublicKey, message: Uint8Array, signature: Uint8Array): string {
  const digest = sha256(
    concatBytes(VERIFIED_SIGNATURE_LABEL, key.serialize(), be32(message.length), message, be32(signature.length), signature),
  );
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * `key.verifySignature(message, signature)` (spec EN-03), answered from memory when these exact
 * bytes verified before. Resolves false for any bad or malformed signature; never rejects.
 */
export async function verifySignatureOnce(key: PublicKey, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const id = signatureId(key, message, signature);
  if (verified.has(id)) return true;
  if (!(await key.verifySignature(message, signature))) return false;
  verified.add(id);
  if (verified.size > VERIFIED_SIGNATURE_CACHE_LIMIT) {
    const oldest = verified.values().next().value;
    if (oldest !== undefined) verified.delete(oldest);
  }
  return true;
}
