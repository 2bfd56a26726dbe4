/**
 * A recipient's prekey bundle as the PQXDH initiator uses it.
 *
 * Owns: the `PreKeyBundle` type (parsed keys), checking its two prekey signatures against the
 * identity key (spec PX-01, ID-08), and the canonical-encoding check for X25519 public keys (PX-10).
 * Does not own: fetching bundles from the relay or the storage records of prekeys
 * (client/keys).
 */

import type { PublicKey } from "../crypto/curve.js";
import type { KemPublicKey } from "../crypto/kem.js";
import { ProtocolError } from "../errors.js";

/** The public prekeys of one device (spec PX-01). Kyber prekeys are mandatory in PQXDH. */
export interface PreKeyBundle {
  readonly registrationId: number;
  readonly deviceId: number;
  /** One-time EC prekey id and key, both present or both absent. */
  readonly preKeyId?: number | undefined;
  readonly preKey?: PublicKey | undefined;
  readonly signedPreKeyId: number;
  readonly signedPreKey: PublicKey;
  /** XEdDSA signature over the 33-byte signed prekey by the identity key. */
  readonly signedPreKeySignature: Uint8Array;
  readonly identityKey: PublicKey;
  readonly kyberPreKeyId: number;
  readonly kyberPreKey: KemPublicKey;
  /** XEdDSA signature over the 1569-byte Kyber prekey by the identity key. */
  readonly kyberPreKeySignature: Uint8Array;
}

/**
 * Checks both prekey signatures of a bundle (spec PX-01, ID-08); throws ProtocolError
 * "invalid_signature" if either fails and "invalid_key" if the Kyber prekey is missing or a
 * one-time prekey id comes without its key (or the reverse).
 */
export async function verifyBundleSignatures(bundle: PreKeyBundle): Promise<void> {
  // Kyber prekeys are mandatory (PQXDH); a bundle from untyped input may lack one.
  if (bundle.kyberPreKey === undefined || bundle.kyberPreKeySignature === undefined) throw new ProtocolError("invalid_key");
  if ((bundle.preKeyId === undefined) !== (bundle.preKey === undefined)) throw new ProtocolError("invalid_key");
  const signedOk = await bundle.identityKey.verifySignature(
    bundle.signedPreKey.serialize(),
    bundle.signedPreKeySignature,
  );
  const kyberOk = await bundle.identityKey.verifySignature(
    bundle.kyberPreKey.serialize(),
    bundle.kyberPreKeySignature,
  );
  if (!signedOk || !kyberOk) throw new ProtocolError("invalid_signature");
}

/** 2^255 − 19, the X25519 field prime. */
const FIELD_PRIME = (1n << 255n) - 19n;

/**
 * True when a 33-byte X25519 public key is canonical: type 0x05, top bit of u clear and
 * u < 2^255 − 19 (spec PX-10, EN-02). Honest X25519 keys always are; a responder rejects others so a
 * base key has exactly one encoding (replay detection compares encodings).
 */
export function isCanonicalPublicKey(serialized: Uint8Array): boolean {
  if (serialized.length !== 33 || serialized[0] !== 0x05) return false;
  let u = 0n;
  for (let i = 32; i >= 1; i--) u = (u << 8n) | BigInt(serialized[i] as number);
  return u < FIELD_PRIME;
}
