/**
 * Room secrets, keys and the room envelope layer (spec RM-01, RM-02, RM-05, RM-06).
 *
 * Owns: the KDF labels and lengths of rooms, `accessKey`, `envelopeKey`, `sealRoomEnvelope`
 * and `openRoomEnvelope`. Does not own: what travels inside (RoomEnvelopeBody is built by the
 * room engine), the sender-key layer (client/sender-keys).
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type RoomEnvelopeBody,
  RoomEnvelopeBodySchema,
  RoomEnvelopeSchema,
} from "../../gen/securecomm/wire/v1/room_pb.js";
import { be32, concatBytes, randomBytes, utf8 } from "../crypto/bytes.js";
import { aes256GcmDecrypt, aes256GcmEncrypt } from "../crypto/cipher.js";
import { hkdfSha256, sha256 } from "../crypto/kdf.js";
import { ProtocolError } from "../errors.js";
import { pad, unpad } from "../padding.js";
import { roomHex } from "./room-ids.js";

/** Room ids are 16 random bytes (RM-01): collisions are negligible and ids reveal nothing. */
export const ROOM_ID_LENGTH = 16;
/** Room secrets are 32 random bytes (RM-01): a full 256-bit key. */
export const ROOM_SECRET_LENGTH = 32;
/** HKDF info label of the access key (RM-02), followed by BE32(epoch). */
export const ACCESS_KEY_INFO = utf8("SecureComm room access key v1");
/** HKDF info label of the envelope key (RM-05), followed by BE32(epoch). */
export const ENVELOPE_KEY_INFO = utf8("SecureComm room envelope key v1");
/** AAD prefix of a room envelope (RM-06), followed by room_id ‖ BE32(epoch). */
export const ENVELOPE_AAD_LABEL = utf8("SecureComm room envelope v1");
/** GCM nonce length (RM-06): 12 random bytes per envelope. */
export const ENVELOPE_NONCE_LENGTH = 12;

function checkLengths(roomId: Uint8Array, secret: Uint8Array): void {
  if (roomId.length !== ROOM_ID_LENGTH) throw new RangeError("room id must be 16 bytes");
  if (secret.length !== ROOM_SECRET_LENGTH) throw new RangeError("room secret must be 32 bytes");
}

/** `access_key(epoch)` (RM-02): authorizes posting, reading and rotating at the relay. */
export function accessKey(roomId: Uint8Array, secret: Uint8Array, epoch: number): Uint8Array {
  checkLengths(roomId, secret);
  return derived(secret, roomId, ACCESS_KEY_INFO, epoch);
}

/** `SHA-256(access_key)`, what the relay stores (RM-01, API-17). */
export function accessKeyHash(key: Uint8Array): Uint8Array {
  return sha256(key);
}

/** `envelope_key(epoch)` (RM-05); never leaves the members' devices. */
export function envelopeKey(roomId: Uint8Array, secret: Uint8Array, epoch: number): Uint8Array {
  checkLengths(roomId, secret);
  return derived(secret, roomId, ENVELOPE_KEY_INFO, epoch);
}

/**
 * Keys derived from a room secret, by the secret's bytes object: every room event and post
 * derived its envelope key (and the access key) again, two HMAC passes each. Kept only while
 * the secret itself is reachable (a WeakMap: a record that drops its secret drops these), and
 * only for bytes seen before: the same bytes object always holds the same secret, as nothing
 * writes into a room secret in place.
 */
const derivedKeys = new WeakMap<Uint8Array, Map<string, Uint8Array>>();
/** Derived keys kept per secret (room ids × epochs × two labels; more is never expected). */
const MAX_DERIVED_PER_SECRET = 16;

function derived(secret: Uint8Array, roomId: Uint8Array, label: Uint8Array, epoch: number): Uint8Array {
  let keys = derivedKeys.get(secret);
  const id = `${label === ACCESS_KEY_INFO ? "a" : "e"}${epoch}/${roomHex(roomId)}`;
  const known = keys?.get(id);
  if (known !== undefined) return known.slice();
  const key = hkdfSha256(secret, roomId, concatBytes(label, be32(epoch)), 32);
  if (keys === undefined) {
    keys = new Map();
    derivedKeys.set(secret, keys);
  }
  if (keys.size >= MAX_DERIVED_PER_SECRET) keys.clear();
  keys.set(id, key.slice());
  return key;
}

function aad(roomId: Uint8Array, epoch: number): Uint8Array {
  return concatBytes(ENVELOPE_AAD_LABEL, roomId, be32(epoch));
}

/** Encrypts a body into serialized `RoomEnvelope` bytes for `epoch` (RM-06). */
export function sealRoomEnvelope(roomId: Uint8Array, secret: Uint8Array, epoch: number, body: RoomEnvelopeBody): Uint8Array {
  const nonce = randomBytes(ENVELOPE_NONCE_LENGTH);
  const plaintext = pad(toBinary(RoomEnvelopeBodySchema, body));
  const ciphertext = aes256GcmEncrypt(envelopeKey(roomId, secret, epoch), nonce, plaintext, aad(roomId, epoch));
  return toBinary(RoomEnvelopeSchema, create(RoomEnvelopeSchema, { epoch, nonce, ciphertext }));
}

/** The epoch an envelope claims, or undefined when it does not parse. */
export function roomEnvelopeEpoch(bytes: Uint8Array): number | undefined {
  try {
    return fromBinary(RoomEnvelopeSchema, bytes).epoch;
  } catch {
    return undefined;
  }
}

/**
 * Decrypts room envelope bytes (RM-06) with `secretFor(epoch)`. Throws ProtocolError:
 * "invalid_message" (does not parse, unknown epoch, wrong nonce length, empty body),
 * "bad_mac" (GCM failure), "invalid_padding".
 */
export function openRoomEnvelope(
  roomId: Uint8Array,
  bytes: Uint8Array,
  secretFor: (epoch: number) => Uint8Array | undefined,
): { epoch: number; body: RoomEnvelopeBody } {
  let env;
  try {
    env = fromBinary(RoomEnvelopeSchema, bytes);
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  if (env.nonce.length !== ENVELOPE_NONCE_LENGTH) throw new ProtocolError("invalid_message");
  const secret = secretFor(env.epoch);
  if (secret === undefined) throw new ProtocolError("invalid_message");
  const plaintext = aes256GcmDecrypt(envelopeKey(roomId, secret, env.epoch), env.nonce, env.ciphertext, aad(roomId, env.epoch));
  let body: RoomEnvelopeBody;
  try {
    body = fromBinary(RoomEnvelopeBodySchema, unpad(plaintext));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError("invalid_message", { cause: e });
  }
  if (body.body.case === undefined) throw new ProtocolError("invalid_message");
  return { epoch: env.epoch, body };
}
