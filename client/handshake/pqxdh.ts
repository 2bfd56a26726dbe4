/**
 * PQXDH key agreement as libsignal 0.103 speaks it (X25519, SHA-256, Kyber1024 round 3).
 *
 * Owns: the initiator's and responder's computation of the 96-byte secret (root key ‖ chain
 * key ‖ SPQR auth key) (spec PX-02..PX-06, PX-09). Pure: no stores; the initiator's randomness (base
 * key, KEM encapsulation) is injectable so vectors can pin it.
 * Does not own: prekey storage, sessions, or deciding whom to trust (client/session).
 */

import { concatBytes } from "../crypto/bytes.js";
import { type KeyPair, PrivateKey, PublicKey } from "../crypto/curve.js";
import { hkdfSha256 } from "../crypto/kdf.js";
import type { KemPublicKey, KemSecretKey } from "../crypto/kem.js";
import { ProtocolError } from "../errors.js";
import { KYBER_CIPHERTEXT_LENGTH, PQXDH_DISCONTINUITY, PQXDH_INFO, PQXDH_OUTPUT_LENGTH } from "./constants.js";
import { isCanonicalPublicKey, type PreKeyBundle } from "./prekey-bundle.js";

/** The PQXDH output (spec PX-06). */
export interface PqxdhSecrets {
  readonly rootKey: Uint8Array;
  readonly chainKey: Uint8Array;
  readonly pqAuthKey: Uint8Array;
}

/** A KEM encapsulation: the shared secret and the ciphertext to send. */
export interface Encapsulation {
  readonly sharedSecret: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** Inputs of `pqxdhInitiate`. */
export interface PqxdhInitiateParams {
  readonly ourIdentity: KeyPair;
  /** A bundle whose signatures were verified (verifyBundleSignatures). */
  readonly bundle: PreKeyBundle;
  /** Our ephemeral base key; a fresh CSPRNG key when omitted (injected for vectors). */
  readonly baseKey?: PrivateKey;
  /** The KEM encapsulation; `bundle.kyberPreKey.encapsulate()` when omitted (injected for vectors). */
  readonly encapsulate?: (key: KemPublicKey) => Promise<Encapsulation> | Encapsulation;
}

/** What the initiator learns and sends (spec PX-08). */
export interface PqxdhInitiateResult {
  readonly secrets: PqxdhSecrets;
  /** Our base key pair's public half, sent as `base_key`. */
  readonly baseKey: PublicKey;
  /** The Kyber ciphertext, sent as `kyber_ciphertext`. */
  readonly kyberCiphertext: Uint8Array;
}

function derive(parts: readonly Uint8Array[]): PqxdhSecrets {
  const out = hkdfSha256(concatBytes(PQXDH_DISCONTINUITY, ...parts), undefined, PQXDH_INFO, PQXDH_OUTPUT_LENGTH);
  return { rootKey: out.slice(0, 32), chainKey: out.slice(32, 64), pqAuthKey: out.slice(64, 96) };
}

/**
 * The initiator's side (spec PX-02..PX-06): DH(IKa, SPKb) ‖ DH(EKa, IKb) ‖ DH(EKa, SPKb)
 * [‖ DH(EKa, OPKb)] ‖ Kyber shared secret, after the 0xFF×32 prefix, through HKDF to 96 bytes.
 */
export async function pqxdhInitiate(p: PqxdhInitiateParams): Promise<PqxdhInitiateResult> {
  const base = p.baseKey ?? (await PrivateKey.generateAsync());
  const b = p.bundle;
  const dh1 = await p.ourIdentity.privateKey.agree(b.signedPreKey);
  const dh2 = await base.agree(b.identityKey);
  const dh3 = await base.agree(b.signedPreKey);
  const parts = [dh1, dh2, dh3];
  if (b.preKey !== undefined) parts.push(await base.agree(b.preKey));
  const kem = p.encapsulate !== undefined ? await p.encapsulate(b.kyberPreKey) : await b.kyberPreKey.encapsulate();
  parts.push(kem.sharedSecret);
  return { secrets: derive(parts), baseKey: await base.getPublicKeyAsync(), kyberCiphertext: kem.ciphertext };
}

/** Inputs of `pqxdhRespond`. */
export interface PqxdhRespondParams {
  readonly ourIdentity: KeyPair;
  readonly ourSignedPreKey: PrivateKey;
  /** Our one-time prekey, when the message named one. */
  readonly ourOneTimePreKey?: PrivateKey | undefined;
  readonly ourKyberPreKey: KemSecretKey;
  readonly theirIdentity: PublicKey;
  /** The initiator's base key as received, 33 bytes. */
  readonly theirBaseKey: Uint8Array;
  /** The Kyber ciphertext as received, 1569 bytes. */
  readonly kyberCiphertext: Uint8Array;
}

/**
 * The responder's side (spec PX-09, PX-10): the same secret from our private keys. Rejects a
 * non-canonical base key or a wrong-size ciphertext with ProtocolError "invalid_key" / an
 * all-zero DH with "invalid_key".
 */
export async function pqxdhRespond(p: PqxdhRespondParams): Promise<PqxdhSecrets> {
  if (!isCanonicalPublicKey(p.theirBaseKey)) throw new ProtocolError("invalid_key");
  if (p.kyberCiphertext.length !== KYBER_CIPHERTEXT_LENGTH) throw new ProtocolError("invalid_message");
  const base = PublicKey.deserialize(p.theirBaseKey);
  const dh1 = await p.ourSignedPreKey.agree(p.theirIdentity);
  const dh2 = await p.ourIdentity.privateKey.agree(base);
  const dh3 = await p.ourSignedPreKey.agree(base);
  const parts = [dh1, dh2, dh3];
  if (p.ourOneTimePreKey !== undefined) parts.push(await p.ourOneTimePreKey.agree(base));
  parts.push(await p.ourKyberPreKey.decapsulate(p.kyberCiphertext));
  return derive(parts);
}
