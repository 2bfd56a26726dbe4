/**
 * Prekey bundle validation (spec ID-08).
 *
 * Owns: turning a `securecomm.relay.v1.PreKeyBundle` fetched for an address into a
 * `VerifiedPreKeyBundle`, the only bundle type PQXDH should accept. Its fields have the names
 * and types of client/handshake's `PreKeyBundle`, so a verified bundle can be passed there
 * directly. Signatures are checked over the key bytes as received.
 * Does not own: trust decisions about the identity key (spec §3.6; client/session), PQXDH.
 */
import type { PreKeyBundle as PreKeyBundleMessage } from "../../gen/securecomm/relay/v1/keys_pb.js";
import { ProtocolError } from "../errors.js";
import { PublicKey } from "../crypto/curve.js";
import { KemPublicKey } from "../crypto/kem.js";
import { XEDDSA_SIGNATURE_LENGTH } from "../crypto/xeddsa.js";
import { addressEquals, addressFromIdentityKey } from "./address.js";
import { DEVICE_ID } from "./identity.js";

/** A bundle whose every ID-08 check passed. */
export interface VerifiedPreKeyBundle {
  readonly kind: "verified-prekey-bundle";
  /** The address the bundle was fetched for, equal to address(identityKey). */
  readonly address: Uint8Array;
  readonly registrationId: number;
  readonly deviceId: number;
  readonly identityKey: PublicKey;
  readonly signedPreKeyId: number;
  readonly signedPreKey: PublicKey;
  readonly signedPreKeySignature: Uint8Array;
  /** One-time EC prekey id and key: both present or both absent. */
  readonly preKeyId?: number | undefined;
  readonly preKey?: PublicKey | undefined;
  readonly kyberPreKeyId: number;
  readonly kyberPreKey: KemPublicKey;
  readonly kyberPreKeySignature: Uint8Array;
  readonly kyberPreKeyIsLastResort: boolean;
}

/**
 * Validates a bundle fetched for `expectedAddress` (spec ID-08), in order:
 * 1. identity key valid (`invalid_key`) and its address equal to `expectedAddress`
 *    (`untrusted_identity`: the relay substituted a key);
 * 2. signed prekey present (`missing_prekey`), a valid key (`invalid_key`), signature by the
 *    identity key over its 33 bytes as received (`invalid_signature`);
 * 3. Kyber prekey present (`missing_prekey`: a bundle without one is rejected), a valid 1569-byte
 *    0x08 key (`invalid_key`), signature over its 1569 bytes (`invalid_signature`);
 * 4. one-time prekey, if present, a valid key (`invalid_key`);
 * 5. device id 1 (`invalid_message`).
 */
export async function verifyPreKeyBundle(
  bundle: PreKeyBundleMessage,
  expectedAddress: Uint8Array,
): Promise<VerifiedPreKeyBundle> {
  const identityKey = PublicKey.deserialize(bundle.identityKey);
  if (!addressEquals(addressFromIdentityKey(identityKey), expectedAddress)) {
    throw new ProtocolError("untrusted_identity");
  }

  const spk = bundle.signedPreKey;
  if (spk === undefined) throw new ProtocolError("missing_prekey");
  const signedPreKey = PublicKey.deserialize(spk.publicKey);
  if (spk.signature.length !== XEDDSA_SIGNATURE_LENGTH || !(await identityKey.verifySignature(spk.publicKey, spk.signature))) {
    throw new ProtocolError("invalid_signature");
  }

  const kpk = bundle.kyberPreKey;
  if (kpk === undefined) throw new ProtocolError("missing_prekey");
  const kyberPreKey = KemPublicKey.deserialize(kpk.publicKey);
  if (kpk.signature.length !== XEDDSA_SIGNATURE_LENGTH || !(await identityKey.verifySignature(kpk.publicKey, kpk.signature))) {
    throw new ProtocolError("invalid_signature");
  }

  const opk = bundle.oneTimePreKey;
  const preKey = opk === undefined ? undefined : PublicKey.deserialize(opk.publicKey);

  if (bundle.deviceId !== DEVICE_ID) throw new ProtocolError("invalid_message");

  return {
    kind: "verified-prekey-bundle",
    address: Uint8Array.from(expectedAddress),
    registrationId: bundle.registrationId,
    deviceId: bundle.deviceId,
    identityKey,
    signedPreKeyId: spk.id,
    signedPreKey,
    signedPreKeySignature: Uint8Array.from(spk.signature),
    preKeyId: opk?.id,
    preKey,
    kyberPreKeyId: kpk.id,
    kyberPreKey,
    kyberPreKeySignature: Uint8Array.from(kpk.signature),
    kyberPreKeyIsLastResort: bundle.kyberPreKeyIsLastResort,
  };
}
