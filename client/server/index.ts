/**
 * The relay's entry point into client/: the few server-side cryptographic helpers it needs.
 *
 * Owns: prekey and identity signature verification, trust-root and server-key generation,
 * server and sender certificate issuing, and address derivation, all with plain bytes in and
 * out so the relay needs no client types (DESIGN.md §2: the relay imports only this module
 * from client/). Never logs anything.
 * Does not own: any relay policy (expiry lifetimes, ids, storage); the relay decides those.
 */
import { ProtocolError } from "../errors.js";
import { KeyPair, PrivateKey, PublicKey } from "../crypto/curve.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import {
  REVOKED_SERVER_CERTIFICATE_ID,
  createSenderCertificate,
  createServerCertificate,
  parseSenderCertificate,
  validateSenderCertificate,
} from "../sealed-sender/certificates.js";

export { REVOKED_SERVER_CERTIFICATE_ID };

/** A Curve25519 key pair as plain bytes: 33-byte public key (0x05 ‖ u), 32-byte private key. */
export interface RawKeyPair {
  readonly publicKey33: Uint8Array;
  readonly privateKey32: Uint8Array;
}

function parsePublic(identityKey33: Uint8Array): PublicKey | undefined {
  try {
    return PublicKey.deserialize(identityKey33);
  } catch {
    return undefined;
  }
}

/**
 * Verifies a prekey signature (spec ID-04, ID-06): the XEdDSA signature by the identity key
 * over the serialized prekey as uploaded (33 bytes for EC, 1569 for Kyber). False on any bad
 * input, including a malformed identity key; never throws.
 */
export async function verifyPreKeySignature(
  identityKey33: Uint8Array,
  serializedPublicKey: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return verifyIdentitySignature(identityKey33, serializedPublicKey, signature);
}

/**
 * Verifies an XEdDSA signature by an identity key over `message` (spec EN-03; used for the
 * account challenge). False on any bad input; never throws.
 */
export async function verifyIdentitySignature(
  identityKey33: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const key = parsePublic(identityKey33);
  if (key === undefined) return false;
  return key.verifySignature(message, signature);
}

/** A fresh Curve25519 key pair from the CSPRNG, as bytes. */
export function generateKeyPair(): RawKeyPair {
  const kp = KeyPair.generate();
  return { publicKey33: kp.publicKey.serialize(), privateKey32: kp.privateKey.serialize() };
}

/** A fresh trust-root key pair (spec SS-04); clients pin its public key (SS-05). */
export function generateTrustRoot(): RawKeyPair {
  return generateKeyPair();
}

/** A fresh server key pair, certified by `issueServerCertificate`. */
export function generateServerKeyPair(): RawKeyPair {
  return generateKeyPair();
}

/**
 * Issues a serialized ServerCertificate for `serverKeyPair.publicKey33` with key id `id`
 * (spec SS-04, SS-06: ids start at 1 and 0xDEADC357 is refused), signed by the trust root.
 * Throws `ProtocolError("invalid_key")` for malformed keys, RangeError for a bad id.
 */
export function issueServerCertificate(
  trustRootPrivate: Uint8Array,
  id: number,
  serverKeyPair: { readonly publicKey33: Uint8Array },
): Uint8Array {
  const root = PrivateKey.deserialize(trustRootPrivate);
  return createServerCertificate(root, id, PublicKey.deserialize(serverKeyPair.publicKey33));
}

/** Inputs of `issueSenderCertificate`. */
export interface IssueSenderCertificateParams {
  /** The serialized ServerCertificate from `issueServerCertificate`. */
  readonly serverCertificate: Uint8Array;
  /** The server private key (32 bytes) that certificate certifies. */
  readonly serverPrivateKey: Uint8Array;
  /** The authenticated account's address (16 bytes). */
  readonly senderAddress: Uint8Array;
  /** The account's identity key (33 bytes). */
  readonly senderIdentityKey33: Uint8Array;
  /** Expiry, Unix milliseconds (spec SS-04: issue time + 7 days). */
  readonly expiresAtMs: number | bigint;
}

/**
 * Issues a serialized SenderCertificate (spec SS-04). Throws `ProtocolError("invalid_key")`
 * for a malformed key and `ProtocolError("invalid_certificate")` when `senderAddress` is not
 * address(senderIdentityKey33) or the server certificate does not parse.
 */
export function issueSenderCertificate(params: IssueSenderCertificateParams): Uint8Array {
  return createSenderCertificate({
    serverCertificate: params.serverCertificate,
    serverPrivateKey: PrivateKey.deserialize(params.serverPrivateKey),
    senderIdentityKey: PublicKey.deserialize(params.senderIdentityKey33),
    senderAddress: params.senderAddress,
    expiresAtMs: params.expiresAtMs,
  });
}

/**
 * Checks a serialized SenderCertificate against a trust root at `nowMs` (spec SS-05), e.g. for
 * the relay's own self-test. Resolves the sender address (16 bytes) or rejects with a
 * ProtocolError ("invalid_certificate", "expired_certificate", "invalid_key").
 */
export async function checkSenderCertificate(
  senderCertificate: Uint8Array,
  trustRootPublic33: Uint8Array,
  nowMs: number | bigint,
): Promise<{ senderAddress: Uint8Array; expiresAtMs: bigint }> {
  const verified = await validateSenderCertificate(
    parseSenderCertificate(senderCertificate),
    PublicKey.deserialize(trustRootPublic33),
    nowMs,
  );
  return { senderAddress: verified.senderAddress, expiresAtMs: verified.expiresAtMs };
}

/**
 * The 16-byte address of a 33-byte identity key (spec ID-03). A malformed key →
 * `ProtocolError("invalid_key")`.
 */
export function addressFromIdentityKey(identityKey33: Uint8Array): Uint8Array {
  if (parsePublic(identityKey33) === undefined) throw new ProtocolError("invalid_key");
  return addressFromSerializedIdentityKey(identityKey33);
}

/** The UUID text form of a 16-byte address (spec ID-03). */
export { addressToString };
