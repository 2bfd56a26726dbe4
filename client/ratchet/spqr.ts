/**
 * SPQR (Signal's post-quantum ratchet): the entry points the Double Ratchet calls.
 *
 * Owns: creating a session's `PqRatchetState` (securecomm.storage.v1) and dispatching each
 * message to the ML-KEM Braid (phase 2, spqr-braid.ts) or, for sessions stored before phase 2
 * (no `braid` field), to the phase-1 epoch-0 chain with `None` messages kept here (spec
 * PQ-01..PQ-08). Pure functions; never mutates its input.
 * Does not own: the Braid state machine (spqr-braid.ts), chains across epochs (spqr-chain.ts).
 */

import { create } from "@bufbuild/protobuf";
import {
  type PqRatchetState,
  PqRatchetStateSchema,
  PqSkippedKeySchema,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import { be32, concatBytes } from "../crypto/bytes.js";
import { hkdfSha256 } from "../crypto/kdf.js";
import { ProtocolError } from "../errors.js";
import { type BraidRandom, braidReceive, braidSend, initBraid } from "./spqr-braid.js";
import { spqrChainStep } from "./spqr-chain.js";
import {
  KEY_LENGTH,
  SPQR_CHAIN_START_INFO,
  SPQR_EPOCH0_WIRE,
  SPQR_MAX_FORWARD_JUMPS,
  SPQR_MAX_SKIPPED_KEYS,
  SPQR_MESSAGE_VERSION,
  SPQR_PAYLOAD_NONE,
} from "./constants.js";

/** HKDF salt of every SPQR chain derivation: 32 zero bytes (SIGNAL-FACTS, SPQR). */
const ZERO_SALT = new Uint8Array(32);

export { spqrChainStep };

/** Which SPQR a new session runs: the Braid (2, the default) or phase 1's epoch-0 chain only. */
export type SpqrPhase = 1 | 2;

/**
 * The SPQR state of one side of a new session (spec PQ-01, PQ-12): with the Braid (phase 2) by
 * default; `phase = 1` gives the phase-1 state, which never leaves epoch 0 (kept for the
 * pinned phase-1 vectors and for sessions stored before phase 2).
 */
export function initSpqr(authKey: Uint8Array, isInitiator: boolean, phase: SpqrPhase = 2): PqRatchetState {
  if (authKey.length !== KEY_LENGTH) throw new RangeError("SPQR auth key must be 32 bytes");
  if (phase === 2) return create(PqRatchetStateSchema, { isInitiator, braid: initBraid(authKey, isInitiator) });
  return initPhase1(authKey, isInitiator);
}

/**
 * The phase-1 epoch-0 state (spec PQ-01): `HKDF(0×32, authKey, "…Chain  Start", 96)`; bytes
 * 32..64 are the initiator→responder chain, 64..96 the responder→initiator chain.
 */
function initPhase1(authKey: Uint8Array, isInitiator: boolean): PqRatchetState {
  const g = hkdfSha256(authKey, ZERO_SALT, SPQR_CHAIN_START_INFO, 3 * KEY_LENGTH);
  const aToB = g.slice(32, 64);
  const bToA = g.slice(64, 96);
  return create(PqRatchetStateSchema, {
    isInitiator,
    sendChainKey: isInitiator ? aToB : bToA,
    sendCounter: 0,
    receiveChainKey: isInitiator ? bToA : aToB,
    receiveCounter: 0,
    skippedKeys: [],
    epoch: 0n,
  });
}

function encodeVarint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Reads a varint of at most 32 bits; returns [value, next offset]. */
function decodeVarint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    const b = bytes[offset + i];
    if (b === undefined) throw new ProtocolError("invalid_message");
    value += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) {
      if (value > 0xffffffff) throw new ProtocolError("invalid_message");
      return [value, offset + i + 1];
    }
  }
  throw new ProtocolError("invalid_message");
}

/** Encodes an epoch-0 `None` SPQR message for `index` (spec PQ-04). */
export function encodeSpqrNone(index: number): Uint8Array {
  return concatBytes(
    Uint8Array.of(SPQR_MESSAGE_VERSION),
    encodeVarint(SPQR_EPOCH0_WIRE),
    encodeVarint(index),
    Uint8Array.of(SPQR_PAYLOAD_NONE),
  );
}

/**
 * Reads the index of a received SPQR message (spec PQ-04). The message must be version 1 in
 * epoch 0 with an index ≥ 1; any payload is ignored (we never advance past epoch 0).
 */
export function parseSpqrIndex(bytes: Uint8Array): number {
  if (bytes.length < 4 || bytes[0] !== SPQR_MESSAGE_VERSION) throw new ProtocolError("invalid_message");
  const [epoch, afterEpoch] = decodeVarint(bytes, 1);
  if (epoch !== SPQR_EPOCH0_WIRE) throw new ProtocolError("invalid_message");
  const [index, afterIndex] = decodeVarint(bytes, afterEpoch);
  if (index < 1 || afterIndex >= bytes.length) throw new ProtocolError("invalid_message");
  return index;
}

/**
 * The next sending key and the SPQR message that carries it (spec PQ-02, PQ-04, PQ-12):
 * through the Braid when the state has one, else phase 1's `None` message in epoch 1.
 */
export function spqrSend(
  state: PqRatchetState,
  random: BraidRandom = {},
): { state: PqRatchetState; key: Uint8Array; message: Uint8Array } {
  if (state.braid !== undefined) {
    const out = braidSend(state.braid, state.isInitiator, random);
    return { state: create(PqRatchetStateSchema, { ...state, braid: out.braid }), key: out.key, message: out.message };
  }
  const counter = state.sendCounter + 1;
  const { next, key } = spqrChainStep(state.sendChainKey, counter);
  const out = create(PqRatchetStateSchema, { ...state, sendChainKey: next, sendCounter: counter });
  return { state: out, key, message: encodeSpqrNone(counter) };
}

/**
 * The receiving key for a received SPQR message: through the Braid when the state has one
 * (spec PQ-16), else phase 1's epoch-0 chain (spec PQ-05). Keys for indices skipped on the
 * way are kept (at most SPQR_MAX_SKIPPED_KEYS, oldest dropped); an index already used, or
 * dropped, is a duplicate; a jump beyond SPQR_MAX_FORWARD_JUMPS is "counter_too_large".
 */
export function spqrReceive(state: PqRatchetState, message: Uint8Array): { state: PqRatchetState; key: Uint8Array } {
  if (state.braid !== undefined) {
    const out = braidReceive(state.braid, state.isInitiator, message);
    return { state: create(PqRatchetStateSchema, { ...state, braid: out.braid }), key: out.key };
  }
  const index = parseSpqrIndex(message);
  if (index <= state.receiveCounter) {
    const found = state.skippedKeys.find((k) => k.index === index);
    if (found === undefined) throw new ProtocolError("duplicate_message");
    const out = create(PqRatchetStateSchema, {
      ...state,
      skippedKeys: state.skippedKeys.filter((k) => k !== found),
    });
    return { state: out, key: found.key };
  }
  if (index - state.receiveCounter > SPQR_MAX_FORWARD_JUMPS) throw new ProtocolError("counter_too_large");
  const skipped = [...state.skippedKeys];
  let chain = state.receiveChainKey;
  let key: Uint8Array = new Uint8Array(0);
  for (let c = state.receiveCounter + 1; c <= index; c++) {
    const step = spqrChainStep(chain, c);
    chain = step.next;
    // Keys more than SPQR_MAX_SKIPPED_KEYS behind would be dropped below anyway.
    if (c < index && c >= index - SPQR_MAX_SKIPPED_KEYS) skipped.push(create(PqSkippedKeySchema, { index: c, key: step.key }));
    else key = step.key;
  }
  const kept = skipped.length > SPQR_MAX_SKIPPED_KEYS ? skipped.slice(skipped.length - SPQR_MAX_SKIPPED_KEYS) : skipped;
  const out = create(PqRatchetStateSchema, {
    ...state,
    receiveChainKey: chain,
    receiveCounter: index,
    skippedKeys: kept,
  });
  return { state: out, key };
}
