/**
 * Sealed-sender certificates: server certificates signed by the relay's trust root and sender
 * certificates signed by a server key (spec SS-04, SS-05, SS-06).
 *
 * Owns: issuing both certificates (used by the relay through client/server), parsing a sender
 * certificate into an `UnverifiedSenderCertificate`, and `validateSenderCertificate`, the only
 * way to obtain a `VerifiedSenderCertificate`. Signatures are checked over the signed bytes as
 * received, never re-encoded (STYLE.md, Proto).
 * Does not own: the envelope (sealed-sender.ts), trust-root pinning (the caller passes the
 * pinned key).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeStrict } from "../crypto/proto-strict.js";
import {
  SenderCertificateContentsSchema,
  SenderCertificateSchema,
  ServerCertificateContentsSchema,
  ServerCertificateSchema,
  type ServerCertificate,
} from "../../gen/securecomm/wire/v1/sealed_sender_pb.js";
import { ProtocolError } from "../errors.js";
import type { PrivateKey } from "../crypto/curve.js";
import { PublicKey } from "../crypto/curve.js";
import { XEDDSA_SIGNATURE_LENGTH } from "../crypto/xeddsa.js";
import { verifySignatureOnce } from "./verified-signatures.js";
import {
  ADDRESS_LENGTH,
  addressEquals,
  addressFromIdentityKey,
  addressToString,
  parseAddress,
} from "../keys/address.js";
import { DEVICE_ID } from "../keys/identity.js";

/** The only device id in this version (spec ID-02). */
export const SENDER_DEVICE_ID = DEVICE_ID;
/**
 * Server certificate id that libsignal treats as revoked; it must never be issued and is
 * rejected on receipt (spec SS-06).
 */
export const REVOKED_SERVER_CERTIFICATE_ID = 0xdeadc357;

/** A sender certificate decoded but not yet checked (STYLE.md: untrusted input types). */
export interface UnverifiedSenderCertificate {
  readonly kind: "unverified-sender-certificate";
  /** The serialized SenderCertificate as received. */
  readonly serialized: Uint8Array;
  /** The signed bytes (SenderCertificateContents as received). */
  readonly certificateBytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** A sender certificate whose whole chain verified under a trust root at a given time. */
export interface VerifiedSenderCertificate {
  readonly kind: "verified-sender-certificate";
  /** The serialized SenderCertificate (for re-sending in our own envelopes). */
  readonly serialized: Uint8Array;
  /** The sender's 16-byte address, equal to address(senderIdentityKey) (spec ID-03). */
  readonly senderAddress: Uint8Array;
  /** The address in UUID text form. */
  readonly senderAddressString: string;
  readonly senderIdentityKey: PublicKey;
  readonly senderDeviceId: number;
  /** Expiry, Unix milliseconds. */
  readonly expiresAtMs: bigint;
  /** Id of the server certificate that signed it. */
  readonly serverCertificateId: number;
  /** The server key that signed it. */
  readonly serverKey: PublicKey;
}

/**
 * Issues a serialized `ServerCertificate` binding `serverKey` to `id`, signed by the trust
 * root (spec SS-04). Id 0 is allowed by the format but ids start at 1 (SS-06); the revoked id is
 * refused (RangeError: misuse).
 */
export function createServerCertificate(trustRootPrivate: PrivateKey, id: number, serverKey: PublicKey): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff || id === REVOKED_SERVER_CERTIFICATE_ID) {
    throw new RangeError("server certificate id out of range or revoked");
  }
  const certificate = toBinary(
    ServerCertificateContentsSchema,
    create(ServerCertificateContentsSchema, { id, key: serverKey.serialize() }),
  );
  return toBinary(
    ServerCertificateSchema,
    create(ServerCertificateSchema, { certificate, signature: trustRootPrivate.sign(certificate) }),
  );
}

/** Inputs of `createSenderCertificate`. */
export interface SenderCertificateParams {
  /** The serialized ServerCertificate of the signing server key. */
  readonly serverCertificate: Uint8Array;
  /** The server private key matching that certificate. */
  readonly serverPrivateKey: PrivateKey;
  readonly senderIdentityKey: PublicKey;
  /** Expiry, Unix milliseconds. */
  readonly expiresAtMs: number | bigint;
  /** Defaults to address(senderIdentityKey); if given it must equal it. */
  readonly senderAddress?: Uint8Array;
}

/**
 * Issues a serialized `SenderCertificate` (spec SS-04): sender address as UUID text, device 1,
 * expiry, identity key and the full server certificate, signed by the server key. Throws
 * `ProtocolError("invalid_certificate")` if `senderAddress` is not the key's address or the
 * server certificate does not parse.
 */
export function createSenderCertificate(params: SenderCertificateParams): Uint8Array {
  const address = addressFromIdentityKey(params.senderIdentityKey);
  if (params.senderAddress !== undefined && !addressEquals(address, params.senderAddress)) {
    throw new ProtocolError("invalid_certificate");
  }
  const expires = BigInt(params.expiresAtMs);
  if (expires < 0n || expires > 0xffff_ffff_ffff_ffffn) throw new RangeError("expiry out of range");
  let serverCertificate: ServerCertificate;
  try {
    serverCertificate = decodeStrict(ServerCertificateSchema, params.serverCertificate);
  } catch {
    throw new ProtocolError("invalid_certificate");
  }
  const certificate = toBinary(
    SenderCertificateContentsSchema,
    create(SenderCertificateContentsSchema, {
      senderDevice: SENDER_DEVICE_ID,
      expires,
      identityKey: params.senderIdentityKey.serialize(),
      signer: { case: "serverCertificate", value: serverCertificate },
      senderUuid: { case: "senderUuidString", value: addressToString(address) },
    }),
  );
  return toBinary(
    SenderCertificateSchema,
    create(SenderCertificateSchema, { certificate, signature: params.serverPrivateKey.sign(certificate) }),
  );
}

/**
 * Decodes a serialized `SenderCertificate` without checking it. Malformed →
 * `ProtocolError("invalid_certificate")`.
 */
export function parseSenderCertificate(serialized: Uint8Array): UnverifiedSenderCertificate {
  try {
    const outer = decodeStrict(SenderCertificateSchema, serialized);
    if (outer.certificate.length === 0 || outer.signature.length !== XEDDSA_SIGNATURE_LENGTH) {
      throw new ProtocolError("invalid_certificate");
    }
    return {
      kind: "unverified-sender-certificate",
      serialized: Uint8Array.from(serialized),
      certificateBytes: outer.certificate,
      signature: outer.signature,
    };
  } catch {
    throw new ProtocolError("invalid_certificate");
  }
}

/**
 * Validates a sender certificate against the pinned trust root at `nowMs` (spec SS-05):
 * full server certificate present, its signature by the trust root over its bytes as received,
 * its id present and not revoked (SS-06), the sender certificate's signature by the server key,
 * `expires` present and not before `nowMs` (else `expired_certificate`), device 1, a valid
 * identity key, and the sender address equal to address(identity key). Every other failure →
 * `ProtocolError("invalid_certificate")`.
 */
export async function validateSenderCertificate(
  cert: UnverifiedSenderCertificate,
  trustRoot: PublicKey,
  nowMs: number | bigint,
): Promise<VerifiedSenderCertificate> {
  const remembered = rememberedSenderCertificate(cert.certificateBytes, cert.signature, trustRoot, nowMs);
  if (remembered !== undefined) return remembered;
  const verified = await validateUncached(cert, trustRoot, nowMs);
  remember(verified, cert.certificateBytes, cert.signature, trustRoot);
  return verified;
}

/**
 * Validated sender certificates remembered (spec SS-05): every sealed-sender envelope carries
 * its sender's certificate, so a recipient sees the same bytes for the whole validity period.
 * Everything `validateSenderCertificate` checks except expiry is a function of the certificate
 * bytes and the trust root alone, so a certificate that passed once for these exact bytes
 * (compared in full) and this trust root passes again; expiry is checked against the caller's
 * time on every lookup. Only successes are kept, each costing two server signatures to make, so
 * hostile input cannot fill this; public data only. One per correspondent; the oldest is
 * dropped first.
 */
export const VERIFIED_CERTIFICATE_CACHE_LIMIT = 512;

interface RememberedCertificate {
  readonly certificateBytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly trustRoot: PublicKey;
  readonly verified: VerifiedSenderCertificate;
}

/** By the signature's bytes (as a string); the whole certificate is then compared. */
const rememberedCertificates = new Map<string, RememberedCertificate>();

function signatureKey(signature: Uint8Array): string {
  return String.fromCharCode(...signature);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function remember(verified: VerifiedSenderCertificate, certificateBytes: Uint8Array, signature: Uint8Array, trustRoot: PublicKey): void {
  const key = signatureKey(signature);
  rememberedCertificates.delete(key);
  rememberedCertificates.set(key, {
    certificateBytes: Uint8Array.from(certificateBytes),
    signature: Uint8Array.from(signature),
    trustRoot,
    verified: copyVerified(verified),
  });
  if (rememberedCertificates.size > VERIFIED_CERTIFICATE_CACHE_LIMIT) {
    const oldest = rememberedCertificates.keys().next().value;
    if (oldest !== undefined) rememberedCertificates.delete(oldest);
  }
}

/**
 * The validated certificate for exactly these signed bytes and signature under `trustRoot`, if
 * one validated before: then `expired_certificate` if it has expired at `nowMs` (checked on
 * every call, never remembered), else the result. `undefined` when nothing is remembered for
 * these bytes; the caller then validates in full (`validateSenderCertificate`).
 */
export function rememberedSenderCertificate(
  certificateBytes: Uint8Array,
  signature: Uint8Array,
  trustRoot: PublicKey,
  nowMs: number | bigint,
): VerifiedSenderCertificate | undefined {
  const entry = rememberedCertificates.get(signatureKey(signature));
  if (
    entry === undefined ||
    !sameBytes(entry.signature, signature) ||
    !sameBytes(entry.certificateBytes, certificateBytes) ||
    !entry.trustRoot.equals(trustRoot)
  ) {
    return undefined;
  }
  const now = typeof nowMs === "bigint" ? nowMs : BigInt(Math.floor(nowMs));
  if (entry.verified.expiresAtMs < now) throw new ProtocolError("expired_certificate");
  return copyVerified(entry.verified);
}

/** A copy whose byte arrays are its own: callers may not change what is remembered. */
function copyVerified(v: VerifiedSenderCertificate): VerifiedSenderCertificate {
  return { ...v, serialized: Uint8Array.from(v.serialized), senderAddress: Uint8Array.from(v.senderAddress) };
}

/** Forgets every remembered certificate (tests). */
export function clearRememberedSenderCertificates(): void {
  rememberedCertificates.clear();
}

async function validateUncached(
  cert: UnverifiedSenderCertificate,
  trustRoot: PublicKey,
  nowMs: number | bigint,
): Promise<VerifiedSenderCertificate> {
  const fail = (): never => {
    throw new ProtocolError("invalid_certificate");
  };
  let contents;
  try {
    contents = decodeStrict(SenderCertificateContentsSchema, cert.certificateBytes);
  } catch {
    return fail();
  }
  if (contents.signer.case !== "serverCertificate") return fail();
  const server = contents.signer.value;
  if (server.signature.length !== XEDDSA_SIGNATURE_LENGTH) return fail();
  // The same certificates arrive with every envelope: a success is remembered for those exact bytes.
  if (!(await verifySignatureOnce(trustRoot, server.certificate, server.signature))) return fail();
  let serverContents;
  let serverKey: PublicKey;
  try {
    serverContents = decodeStrict(ServerCertificateContentsSchema, server.certificate);
    serverKey = PublicKey.deserialize(serverContents.key);
  } catch {
    return fail();
  }
  const serverId = serverContents.id;
  if (serverId === undefined || serverId === REVOKED_SERVER_CERTIFICATE_ID) return fail();
  if (!(await verifySignatureOnce(serverKey, cert.certificateBytes, cert.signature))) return fail();

  let identityKey: PublicKey;
  try {
    identityKey = PublicKey.deserialize(contents.identityKey);
  } catch {
    return fail();
  }
  if (contents.senderDevice !== SENDER_DEVICE_ID) return fail();
  let claimed: Uint8Array;
  if (contents.senderUuid.case === "senderUuidString") {
    try {
      claimed = parseAddress(contents.senderUuid.value);
    } catch {
      return fail();
    }
  } else if (contents.senderUuid.case === "senderUuidBytes" && contents.senderUuid.value.length === ADDRESS_LENGTH) {
    claimed = contents.senderUuid.value;
  } else {
    return fail();
  }
  const address = addressFromIdentityKey(identityKey);
  if (!addressEquals(address, claimed)) return fail();
  if (contents.expires === undefined) return fail();
  const now = typeof nowMs === "bigint" ? nowMs : BigInt(Math.floor(nowMs));
  if (contents.expires < now) throw new ProtocolError("expired_certificate");
  return {
    kind: "verified-sender-certificate",
    serialized: cert.serialized,
    senderAddress: address,
    senderAddressString: addressToString(address),
    senderIdentityKey: identityKey,
    senderDeviceId: contents.senderDevice,
    expiresAtMs: contents.expires,
    serverCertificateId: serverId,
    serverKey,
  };
}
