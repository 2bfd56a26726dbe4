/**
 * The ML-KEM Braid (SPQR phase 2): the sparse continuous key agreement that advances SPQR epochs.
 *
 * Owns: the Braid state machine over `PqBraid` (securecomm.storage.v1): which chunk or
 * acknowledgement each message carries, receiving chunks, the authenticator and its MACs, the
 * epoch secrets and mixing them into the chains, and the key every message uses (spec
 * PQ-09..PQ-17). Pure: `braidSend` takes its randomness as a parameter source, `braidReceive`
 * needs none; neither mutates its input, and a thrown ProtocolError leaves the caller's state
 * as it was (the caller commits only after the whole message decrypts, DR-13).
 * Does not own: chain key derivation (spqr-chain.ts), message bytes (spqr-message.ts), the
 * erasure code (spqr-erasure.ts), ML-KEM arithmetic (client/crypto/mlkem768-incremental.ts).
 *
 * One epoch, `e` (PQ-12): the side sending the key (A: the initiator in epoch 1, then the sides
 * alternate) sends its 64-byte header ‖ MAC in chunks; the other side (B), once it has the
 * header, samples ct1 (Encaps1) and the epoch secret, and sends ct1 chunks; A, on B's first ct1
 * chunk, sends its key vector in chunks instead, marking them as acknowledging ct1 once it has
 * all of ct1; B, with the whole vector and the acknowledgement, computes ct2 (Encaps2) and sends
 * ct2 ‖ MAC in chunks; A, with all of it, checks the MAC, decapsulates and derives the same
 * epoch secret, adds chain epoch `e` and moves to epoch `e + 1` as the ciphertext side; B
 * follows when it first receives an epoch-`e + 1` message. Every message carries the sender's
 * Braid epoch `e` and uses a key of chain epoch `e − 1`, which both sides know.
 */

import { create } from "@bufbuild/protobuf";
import {
  type PqBraid,
  PqBraidSchema,
  PqBraidStage,
  type PqChunk,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import { be64, concatBytes, constantTimeEqual, randomBytes } from "../crypto/bytes.js";
import { hkdfSha256, hmacSha256 } from "../crypto/kdf.js";
import {
  decapsulate,
  encaps1,
  encaps2,
  generateSplitKeyPair,
  MLKEM768_CT1_BYTES,
  MLKEM768_CT2_BYTES,
  MLKEM768_HEADER_BYTES,
  MLKEM768_VECTOR_BYTES,
  vectorMatchesHeader,
} from "../crypto/mlkem768-incremental.js";
import { ProtocolError } from "../errors.js";
import {
  BRAID_AUTH_UPDATE_INFO,
  BRAID_CIPHERTEXT_MAC_INFO,
  BRAID_HEADER_MAC_INFO,
  BRAID_MAC_LENGTH,
  BRAID_SCKA_KEY_INFO,
  KEY_LENGTH,
} from "./constants.js";
import { addEpoch, type Chains, receiveKey, sendKey, startChains } from "./spqr-chain.js";
import { pqChunkMessage } from "./state-messages.js";
import { type Chunk, chunkCount, decodeChunks, encodeChunk, MAX_CHUNK_INDEX } from "./spqr-erasure.js";
import { encodeSpqrMessage, parseSpqrMessage, type SpqrMessage, SpqrType } from "./spqr-message.js";

const ZERO_SALT = new Uint8Array(32);

/** Payload sizes in bytes (spec PQ-10, PQ-11). */
const HEADER_PAYLOAD_BYTES = MLKEM768_HEADER_BYTES + BRAID_MAC_LENGTH;
const CT2_PAYLOAD_BYTES = MLKEM768_CT2_BYTES + BRAID_MAC_LENGTH;

/** The authenticator (spec PQ-13). */
interface Auth {
  readonly root: Uint8Array;
  readonly mac: Uint8Array;
}

/** `Update(ep, k)`: `HKDF(0×32, root ‖ k, "…:Authenticator Update" ‖ BE64(ep), 64)` → root ‖ MAC key. */
function authUpdate(auth: Auth, epoch: number, key: Uint8Array): Auth {
  const out = hkdfSha256(concatBytes(auth.root, key), ZERO_SALT, concatBytes(BRAID_AUTH_UPDATE_INFO, be64(epoch)), 64);
  return { root: out.slice(0, 32), mac: out.slice(32, 64) };
}

function headerMac(auth: Auth, epoch: number, header: Uint8Array): Uint8Array {
  return hmacSha256(auth.mac, concatBytes(BRAID_HEADER_MAC_INFO, be64(epoch), header));
}

function ciphertextMac(auth: Auth, epoch: number, ct: Uint8Array): Uint8Array {
  return hmacSha256(auth.mac, concatBytes(BRAID_CIPHERTEXT_MAC_INFO, be64(epoch), ct));
}

/** `KDF_OK`: the epoch secret `HKDF(0×32, ss, "…:SCKA Key" ‖ BE64(epoch), 32)` (spec PQ-14). */
export function epochSecret(sharedSecret: Uint8Array, epoch: number): Uint8Array {
  return hkdfSha256(sharedSecret, ZERO_SALT, concatBytes(BRAID_SCKA_KEY_INFO, be64(epoch)), KEY_LENGTH);
}

/** The Braid state of a new session (spec PQ-12): epoch 1, the initiator sends the key. */
export function initBraid(authKey: Uint8Array, isInitiator: boolean): PqBraid {
  if (authKey.length !== KEY_LENGTH) throw new RangeError("SPQR auth key must be 32 bytes");
  const chains = startChains(authKey, isInitiator);
  const auth = authUpdate({ root: new Uint8Array(32), mac: new Uint8Array(32) }, 1, authKey);
  return create(PqBraidSchema, {
    nextRoot: chains.nextRoot,
    links: [...chains.links],
    authRootKey: auth.root,
    authMacKey: auth.mac,
    epoch: 1n,
    stage: isInitiator ? PqBraidStage.KEYS_UNSAMPLED : PqBraidStage.NO_HEADER_RECEIVED,
  });
}

/** A working copy of the state: plain fields, turned back into a PqBraid at the end. */
interface Work {
  chains: Chains;
  auth: Auth;
  epoch: number;
  stage: PqBraidStage;
  nextChunk: number;
  outgoing: Uint8Array;
  decapsulationKey: Uint8Array;
  header: Uint8Array;
  encapsM: Uint8Array;
  ct1: Uint8Array;
  incoming: PqChunk[];
  ekVector: Uint8Array;
  /** The epoch secret derived by this step, if any: reported, added to the chains, never stored. */
  derived?: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function load(b: PqBraid): Work {
  return {
    chains: { nextRoot: b.nextRoot, links: b.links },
    auth: { root: b.authRootKey, mac: b.authMacKey },
    epoch: Number(b.epoch),
    stage: b.stage,
    nextChunk: b.nextChunk,
    outgoing: b.outgoing,
    decapsulationKey: b.decapsulationKey,
    header: b.header,
    encapsM: b.encapsM,
    ct1: b.ct1,
    incoming: [...b.incoming],
    ekVector: b.ekVector,
  };
}

function save(w: Work): PqBraid {
  // A complete literal (every field): what create() would return, without its reflection.
  return {
    $typeName: "securecomm.storage.v1.PqBraid",
    nextRoot: w.chains.nextRoot,
    links: [...w.chains.links],
    authRootKey: w.auth.root,
    authMacKey: w.auth.mac,
    epoch: BigInt(w.epoch),
    stage: w.stage,
    nextChunk: w.nextChunk,
    outgoing: w.outgoing,
    decapsulationKey: w.decapsulationKey,
    header: w.header,
    encapsM: w.encapsM,
    ct1: w.ct1,
    incoming: w.incoming,
    ekVector: w.ekVector,
  };
}

/** Starts sending `payload` in chunks from index 0. */
function startOutgoing(w: Work, payload: Uint8Array): void {
  w.outgoing = payload;
  w.nextChunk = 0;
}

/** The next chunk of the outgoing payload; indices wrap within the field (any n distinct decode). */
function nextChunk(w: Work): Chunk {
  const index = w.nextChunk;
  w.nextChunk = (index + 1) % (MAX_CHUNK_INDEX + 1);
  return { index, data: encodeChunk(w.outgoing, index) };
}

/**
 * Adds a received chunk of an `n`-chunk payload; returns the payload once `n` distinct chunks
 * are in, else undefined. A repeated index is ignored, so at most n − 1 chunks are ever stored.
 */
function addChunk(w: Work, n: number, chunk: Chunk): Uint8Array | undefined {
  if (w.incoming.some((c) => c.index === chunk.index)) return undefined;
  const all = [...w.incoming, pqChunkMessage(chunk.index, chunk.data)];
  if (all.length < n) {
    w.incoming = all;
    return undefined;
  }
  w.incoming = [];
  return decodeChunks(n, all);
}

/** Randomness the Braid draws when sending (injectable for vectors). */
export interface BraidRandom {
  /** 64-byte ML-KEM key generation seed d ‖ z. */
  readonly keySeed?: () => Uint8Array;
  /** 32-byte encapsulation message m. */
  readonly encapsMessage?: () => Uint8Array;
}

/** Result of sending: the new state, the SPQR message bytes, and the message key. */
export interface BraidSendResult {
  readonly braid: PqBraid;
  readonly message: Uint8Array;
  readonly key: Uint8Array;
  /** The message's Braid epoch and index (for tests and vectors). */
  readonly epoch: number;
  readonly index: number;
  /** The epoch secret derived while sending, if any (for tests and vectors; secret). */
  readonly newEpoch?: NewEpoch;
}

/** An epoch secret that was just derived (PQ-14). */
export interface NewEpoch {
  readonly epoch: number;
  readonly secret: Uint8Array;
}

/** The epoch secret this step derived, with its epoch, if any. */
function gained(w: Work): NewEpoch | undefined {
  if (w.derived === undefined) return undefined;
  return { epoch: Number(w.chains.links[w.chains.links.length - 1]?.epoch ?? 0n), secret: w.derived };
}

/** What the side in `w` sends next (spec PQ-12), advancing `w` when sending starts a step. */
function outgoingPayload(w: Work, random: BraidRandom, isInitiator: boolean): Pick<SpqrMessage, "type" | "chunk"> {
  switch (w.stage) {
    case PqBraidStage.KEYS_UNSAMPLED: {
      const kp = generateSplitKeyPair(random.keySeed?.() ?? randomBytes(64));
      w.decapsulationKey = kp.decapsulationKey;
      w.header = kp.header;
      startOutgoing(w, concatBytes(kp.header, headerMac(w.auth, w.epoch, kp.header)));
      // The vector is sent once B answers; keep it until then.
      w.ekVector = kp.vector;
      w.stage = PqBraidStage.HEADER_SENT;
      return { type: SpqrType.Hdr, chunk: nextChunk(w) };
    }
    case PqBraidStage.HEADER_SENT:
      return { type: SpqrType.Hdr, chunk: nextChunk(w) };
    case PqBraidStage.EK_SENT:
      return { type: SpqrType.Ek, chunk: nextChunk(w) };
    case PqBraidStage.EK_SENT_CT1_RECEIVED:
      return { type: SpqrType.EkCt1Ack, chunk: nextChunk(w) };
    case PqBraidStage.CT2_RECEIVING:
      return { type: SpqrType.Ct1Ack };
    case PqBraidStage.NO_HEADER_RECEIVED:
    case PqBraidStage.CT1_ACKNOWLEDGED:
      return { type: SpqrType.None };
    case PqBraidStage.HEADER_RECEIVED: {
      const one = encaps1(w.header, random.encapsMessage?.() ?? randomBytes(32));
      w.encapsM = one.m;
      w.ct1 = one.ct1;
      const secret = epochSecret(one.sharedSecret, w.epoch);
      w.auth = authUpdate(w.auth, w.epoch, secret);
      // B knows the secret now; A uses it only after it decapsulates, so B adds the chain epoch
      // now (to receive A's next-epoch messages) but keeps sending on epoch − 1 (PQ-16).
      addEpochSecret(w, secret, isInitiator);
      startOutgoing(w, one.ct1);
      w.stage = PqBraidStage.CT1_SAMPLED;
      return { type: SpqrType.Ct1, chunk: nextChunk(w) };
    }
    case PqBraidStage.CT1_SAMPLED:
    case PqBraidStage.EK_RECEIVED_CT1_SAMPLED:
      return { type: SpqrType.Ct1, chunk: nextChunk(w) };
    case PqBraidStage.CT2_SAMPLED:
      return { type: SpqrType.Ct2, chunk: nextChunk(w) };
    default:
      throw new ProtocolError("no_session");
  }
}

/** Adds chain epoch `w.epoch` from its secret (the secret itself is then forgotten). */
function addEpochSecret(w: Work, secret: Uint8Array, isInitiator: boolean): void {
  w.chains = addEpoch(w.chains, w.epoch, secret, isInitiator);
  w.derived = secret;
}

/**
 * Sends one SPQR message (spec PQ-12, PQ-16): the Braid payload for the current stage and the
 * next key of chain epoch `epoch − 1`.
 */
export function braidSend(braid: PqBraid, isInitiator: boolean, random: BraidRandom = {}): BraidSendResult {
  const w = load(braid);
  const payload = outgoingPayload(w, random, isInitiator);
  const sent = sendKey(w.chains, w.epoch - 1);
  w.chains = sent.chains;
  const message = encodeSpqrMessage({ epoch: w.epoch, index: sent.index, ...payload });
  const newEpoch = gained(w);
  return { braid: save(w), message, key: sent.key, epoch: w.epoch, index: sent.index, ...(newEpoch ? { newEpoch } : {}) };
}

/** A completes the epoch: decapsulates, mixes the secret into the authenticator, checks the ciphertext MAC, adds the chain epoch (PQ-13, PQ-14). */
function completeAsKeySender(w: Work, ct2Payload: Uint8Array, isInitiator: boolean): void {
  const ct2 = ct2Payload.subarray(0, MLKEM768_CT2_BYTES);
  const mac = ct2Payload.subarray(MLKEM768_CT2_BYTES);
  // The MAC is under the authenticator already updated with this epoch's secret (as B made it).
  const secret = epochSecret(decapsulate(w.decapsulationKey, w.ct1, ct2), w.epoch);
  const auth = authUpdate(w.auth, w.epoch, secret);
  if (!constantTimeEqual(ciphertextMac(auth, w.epoch, concatBytes(w.ct1, ct2)), mac)) throw new ProtocolError("bad_mac");
  w.auth = auth;
  addEpochSecret(w, secret, isInitiator);
  Object.assign(w, {
    epoch: w.epoch + 1,
    stage: PqBraidStage.NO_HEADER_RECEIVED,
    nextChunk: 0,
    outgoing: EMPTY,
    decapsulationKey: EMPTY,
    header: EMPTY,
    encapsM: EMPTY,
    ct1: EMPTY,
    incoming: [],
    ekVector: EMPTY,
  });
}

/** B learns that A completed the epoch and turns to sending keys in the next one. */
function followToNextEpoch(w: Work): void {
  Object.assign(w, {
    epoch: w.epoch + 1,
    stage: PqBraidStage.KEYS_UNSAMPLED,
    nextChunk: 0,
    outgoing: EMPTY,
    decapsulationKey: EMPTY,
    header: EMPTY,
    encapsM: EMPTY,
    ct1: EMPTY,
    incoming: [],
    ekVector: EMPTY,
  });
}

/** B has the whole vector and the ct1 acknowledgement: Encaps2 and the ciphertext MAC. */
function sampleCt2(w: Work, vector: Uint8Array): void {
  const ct2 = encaps2(w.encapsM, w.header, vector);
  startOutgoing(w, concatBytes(ct2, ciphertextMac(w.auth, w.epoch, concatBytes(w.ct1, ct2))));
  w.encapsM = EMPTY;
  w.ekVector = EMPTY;
  w.stage = PqBraidStage.CT2_SAMPLED;
}

const refuse = (): never => {
  throw new ProtocolError("invalid_message");
};

/** Applies a current-epoch payload to the key-sending side A (spec PQ-12). */
function receiveAsKeySender(w: Work, m: SpqrMessage, isInitiator: boolean): void {
  const chunk = m.chunk;
  switch (m.type) {
    case SpqrType.None:
      return;
    case SpqrType.Ct1: {
      if (chunk === undefined) return refuse();
      if (w.stage === PqBraidStage.KEYS_UNSAMPLED) return refuse(); // B cannot have our header yet
      if (w.stage !== PqBraidStage.HEADER_SENT && w.stage !== PqBraidStage.EK_SENT) return; // stale
      if (w.stage === PqBraidStage.HEADER_SENT) {
        // B has our header: send the key vector instead.
        startOutgoing(w, w.ekVector);
        w.ekVector = EMPTY;
        w.stage = PqBraidStage.EK_SENT;
      }
      const ct1 = addChunk(w, chunkCount(MLKEM768_CT1_BYTES), chunk);
      if (ct1 !== undefined) {
        w.ct1 = ct1;
        w.stage = PqBraidStage.EK_SENT_CT1_RECEIVED;
      }
      return;
    }
    case SpqrType.Ct2: {
      if (chunk === undefined) return refuse();
      if (w.stage !== PqBraidStage.EK_SENT_CT1_RECEIVED && w.stage !== PqBraidStage.CT2_RECEIVING) return refuse();
      w.stage = PqBraidStage.CT2_RECEIVING;
      const payload = addChunk(w, chunkCount(CT2_PAYLOAD_BYTES), chunk);
      if (payload !== undefined) completeAsKeySender(w, payload, isInitiator);
      return;
    }
    default:
      // Hdr, Ek, EkCt1Ack, Ct1Ack come only from a key sender: not the peer's role in this epoch.
      return refuse();
  }
}

/** Applies a current-epoch payload to the ciphertext side B (spec PQ-12). */
function receiveAsCiphertextSender(w: Work, m: SpqrMessage): void {
  const chunk = m.chunk;
  const beforeCt1 = w.stage === PqBraidStage.NO_HEADER_RECEIVED || w.stage === PqBraidStage.HEADER_RECEIVED;
  switch (m.type) {
    case SpqrType.None:
      return;
    case SpqrType.Hdr: {
      if (chunk === undefined) return refuse();
      if (w.stage !== PqBraidStage.NO_HEADER_RECEIVED) return; // stale
      const payload = addChunk(w, chunkCount(HEADER_PAYLOAD_BYTES), chunk);
      if (payload === undefined) return;
      const header = payload.slice(0, MLKEM768_HEADER_BYTES);
      if (!constantTimeEqual(headerMac(w.auth, w.epoch, header), payload.subarray(MLKEM768_HEADER_BYTES))) {
        throw new ProtocolError("bad_mac");
      }
      w.header = header;
      w.stage = PqBraidStage.HEADER_RECEIVED;
      return;
    }
    case SpqrType.Ek:
    case SpqrType.EkCt1Ack: {
      if (chunk === undefined) return refuse();
      if (beforeCt1) return refuse(); // A sends its vector only after our first ct1 chunk
      const acks = m.type === SpqrType.EkCt1Ack;
      if (w.stage === PqBraidStage.EK_RECEIVED_CT1_SAMPLED) {
        if (acks) sampleCt2(w, w.ekVector);
        return;
      }
      if (w.stage !== PqBraidStage.CT1_SAMPLED && w.stage !== PqBraidStage.CT1_ACKNOWLEDGED) return; // stale
      const acked = acks || w.stage === PqBraidStage.CT1_ACKNOWLEDGED;
      if (acks && w.stage === PqBraidStage.CT1_SAMPLED) w.stage = PqBraidStage.CT1_ACKNOWLEDGED;
      const vector = addChunk(w, chunkCount(MLKEM768_VECTOR_BYTES), chunk);
      if (vector === undefined) return;
      if (!vectorMatchesHeader(w.header, vector)) throw new ProtocolError("invalid_key");
      if (acked) sampleCt2(w, vector);
      else {
        w.ekVector = vector;
        w.stage = PqBraidStage.EK_RECEIVED_CT1_SAMPLED;
      }
      return;
    }
    case SpqrType.Ct1Ack: {
      if (beforeCt1) return refuse();
      if (w.stage === PqBraidStage.CT1_SAMPLED) w.stage = PqBraidStage.CT1_ACKNOWLEDGED;
      else if (w.stage === PqBraidStage.EK_RECEIVED_CT1_SAMPLED) sampleCt2(w, w.ekVector);
      return;
    }
    default:
      // Ct1 and Ct2 come only from a ciphertext sender: not the peer's role in this epoch.
      return refuse();
  }
}

/** Whether `w` is on the key-sending side of its epoch. */
function sendsKey(stage: PqBraidStage): boolean {
  return stage >= PqBraidStage.KEYS_UNSAMPLED && stage <= PqBraidStage.CT2_RECEIVING;
}

/** Result of receiving: the new state and the message key. */
export interface BraidReceiveResult {
  readonly braid: PqBraid;
  readonly key: Uint8Array;
  /** The epoch secret derived while receiving, if any (for tests and vectors; secret). */
  readonly newEpoch?: NewEpoch;
}

/**
 * Receives one SPQR message (spec PQ-12, PQ-16, PQ-17): applies its Braid payload when it is
 * from our current epoch (or the next one, once, when we sent ct2), ignores the payload of an
 * older epoch, refuses anything else, then derives the key of chain epoch `epoch − 1`.
 */
export function braidReceive(braid: PqBraid, isInitiator: boolean, bytes: Uint8Array): BraidReceiveResult {
  const m = parseSpqrMessage(bytes);
  const w = load(braid);
  if (m.epoch === w.epoch + 1) {
    // Only A's first messages after it completed our epoch can be ahead, and only once we sent ct2.
    if (w.stage !== PqBraidStage.CT2_SAMPLED) throw new ProtocolError("invalid_message");
    followToNextEpoch(w);
  } else if (m.epoch > w.epoch) {
    throw new ProtocolError("invalid_message");
  }
  if (m.epoch === w.epoch) {
    if (sendsKey(w.stage)) receiveAsKeySender(w, m, isInitiator);
    else receiveAsCiphertextSender(w, m);
  }
  const received = receiveKey(w.chains, m.epoch - 1, m.index);
  w.chains = received.chains;
  const newEpoch = gained(w);
  return { braid: save(w), key: received.key, ...(newEpoch ? { newEpoch } : {}) };
}

/** The incoming chunk buffer never holds more than this: fewer chunks than the largest payload. */
export const BRAID_MAX_INCOMING_CHUNKS = chunkCount(MLKEM768_VECTOR_BYTES) - 1;
