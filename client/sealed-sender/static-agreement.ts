/**
 * The static layer's X25519 agreement (spec SS-03) remembered per pair of identity keys.
 *
 * Owns: `staticAgreement(ourIdentity, theirIdentity)`, `ourIdentity.agree(theirIdentity)`
 * answered from memory when this same private key object already agreed with these exact
 * public-key bytes. Every envelope between two members repeats that agreement (the sender's
 * identity with the recipient's, then the recipient's with the sender's): it is half of the
 * X25519 work of sealing and of opening. X25519 is a function of its two inputs, so the
 * remembered value is exactly what agreeing again gives; failures (a low-order key) are never
 * remembered and throw again.
 * Secrets: the value is derived from our identity private key and is as sensitive as it. It is
 * held in a `WeakMap` under that key's own object, so it lives no longer than the object
 * holding the private key, and bounded per key (oldest dropped first). It never leaves this
 * module except as the input of the static layer's KDF.
 * Does not own: the envelope (sealed-sender.ts), agreement itself (client/crypto/curve.ts).
 */
import type { PrivateKey, PublicKey } from "../crypto/curve.js";

/** Correspondents remembered per identity key: one per member of the rooms in use. */
export const STATIC_AGREEMENT_LIMIT = 1024;

const agreements = new WeakMap<PrivateKey, Map<string, Uint8Array>>();

function peerKey(their: PublicKey): string {
  return String.fromCharCode(...their.serialize());
}

/**
 * X25519 of `ours` with `theirs` (spec EN-02, SS-03): a fresh copy of the remembered result,
 * or `ours.agree(theirs)` (which throws `ProtocolError("invalid_key")` for a low-order key).
 */
export async function staticAgreement(ours: PrivateKey, theirs: PublicKey): Promise<Uint8Array> {
  let forKey = agreements.get(ours);
  if (forKey === undefined) {
    forKey = new Map();
    agreements.set(ours, forKey);
  }
  const id = peerKey(theirs);
  const known = forKey.get(id);
  if (known !== undefined) return Uint8Array.from(known);
  const shared = await ours.agree(theirs);
  forKey.set(id, Uint8Array.from(shared));
  if (forKey.size > STATIC_AGREEMENT_LIMIT) {
    const oldest = forKey.keys().next().value;
    if (oldest !== undefined) forKey.delete(oldest);
  }
  return shared;
}
