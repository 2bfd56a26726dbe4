/**
 * Sender-key records and states (spec SK-07, SK-08, SK-09, SK-12), as pure operations on a
 * `securecomm.storage.v1.SenderKeyRecord` that the caller owns (a fresh decode of the stored
 * bytes, so a failure part-way leaves the store untouched).
 *
 * Owns: adding states (at most 5, newest first), finding a state by chain id, and selecting the
 * message seed for an iteration: a stored skipped seed, a duplicate, a jump too far, or a
 * forward step that stores the seeds in between (at most 2,000, oldest discarded).
 * Does not own: encryption, signatures and stores (group-cipher.ts).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeStrict } from "../crypto/proto-strict.js";
import {
  SenderChainKeySchema,
  SenderKeyRecordSchema,
  SenderKeyStateSchema,
  SenderMessageKeySchema,
  type SenderChainKey,
  type SenderKeyRecord,
  type SenderKeyState,
} from "../../gen/securecomm/storage/v1/sender_key_pb.js";
import { ProtocolError } from "../errors.js";
import { constantTimeEqual } from "../crypto/bytes.js";
import type { PublicKey } from "../crypto/curve.js";
import { chainStep, nextChainKey } from "./chain.js";
import { compileCodec } from "../crypto/compiled-codec.js";
import { MAX_FORWARD_JUMPS, MAX_ITERATION, MAX_SENDER_KEY_STATES, MAX_SKIPPED_SEEDS } from "./constants.js";

/** An empty record. */
export function emptySenderKeyRecord(): SenderKeyRecord {
  return create(SenderKeyRecordSchema, { states: [] });
}

/** Decodes stored record bytes; corrupt bytes → `ProtocolError("invalid_message")`. */
export function parseSenderKeyRecord(bytes: Uint8Array): SenderKeyRecord {
  try {
    return decodeStrict(SenderKeyRecordSchema, bytes);
  } catch {
    throw new ProtocolError("invalid_message");
  }
}

/** The record's compiled codec (compiled-codec.ts): protobuf-es's bytes, written once per group message. */
const recordCodec = compileCodec(SenderKeyRecordSchema);

/** Encodes a record for the store (exactly protobuf-es's `toBinary` bytes). */
export function serializeSenderKeyRecord(record: SenderKeyRecord): Uint8Array {
  return recordCodec === undefined ? toBinary(SenderKeyRecordSchema, record) : recordCodec.encode(record);
}

/**
 * A copy of `record` in which `state` (one of its states) may be changed by `takeSendingSeed` /
 * `takeReceivingSeed` without touching the original: those replace `chainKey` and edit the
 * skipped-seed list, so the state and that list are copied; everything else is shared and
 * never written. For records that must stay as they are (record-cache.ts) until a change is
 * known to succeed.
 */
export function copyForUpdate(record: SenderKeyRecord, state: SenderKeyState): { record: SenderKeyRecord; state: SenderKeyState } {
  const copy: SenderKeyState = { ...state, skippedKeys: state.skippedKeys.slice() };
  const states = record.states.slice();
  for (let i = 0; i < states.length; i++) if (states[i] === state) states[i] = copy;
  return { record: { ...record, states }, state: copy };
}

/**
 * Adds a state as the newest (spec SK-08, SK-09). If a state with the same chain id and
 * signing key exists it is kept as it is (it may be further along) and moved to the front;
 * other states with that chain id (a different key) are dropped, as libsignal does; the record
 * is then trimmed to 5 states.
 */
export function addSenderKeyState(
  record: SenderKeyRecord,
  fields: { chainId: number; iteration: number; chainKey: Uint8Array; signingKey: PublicKey; signingPrivateKey?: Uint8Array },
): void {
  const signingPublic = fields.signingKey.serialize();
  const existing = record.states.find(
    (s) => s.chainId === fields.chainId && constantTimeEqual(s.signingPublicKey, signingPublic),
  );
  record.states = record.states.filter((s) => s.chainId !== fields.chainId);
  const state =
    existing ??
    create(SenderKeyStateSchema, {
      chainId: fields.chainId,
      chainKey: create(SenderChainKeySchema, { iteration: fields.iteration, seed: Uint8Array.from(fields.chainKey) }),
      signingPublicKey: signingPublic,
      signingPrivateKey: fields.signingPrivateKey === undefined ? new Uint8Array(0) : Uint8Array.from(fields.signingPrivateKey),
      skippedKeys: [],
    });
  record.states.unshift(state);
  if (record.states.length > MAX_SENDER_KEY_STATES) record.states.length = MAX_SENDER_KEY_STATES;
}

/** The state with `chainId`, or undefined. */
export function findSenderKeyState(record: SenderKeyRecord, chainId: number): SenderKeyState | undefined {
  return record.states.find((s) => s.chainId === chainId);
}

/** The state a sender encrypts with: the newest (spec SK-04). */
export function currentSenderKeyState(record: SenderKeyRecord): SenderKeyState | undefined {
  return record.states[0];
}

function chainOf(state: SenderKeyState): SenderChainKey {
  const ck = state.chainKey;
  if (ck === undefined || ck.seed.length !== 32) throw new ProtocolError("invalid_message");
  return ck;
}

/**
 * Takes the sender's message seed for the current iteration and advances the chain (spec
 * SK-04). Returns the iteration used. Mutates `state`.
 */
export function takeSendingSeed(state: SenderKeyState): { iteration: number; seed: Uint8Array } {
  const ck = chainOf(state);
  if (ck.iteration >= MAX_ITERATION) throw new ProtocolError("counter_too_large");
  const step = chainStep(ck.seed);
  // A new chain-key message (the old one may be shared with a remembered record).
  state.chainKey = { ...ck, iteration: ck.iteration + 1, seed: step.nextChainKey };
  return { iteration: ck.iteration, seed: step.seed };
}

/**
 * Selects the message seed for `iteration` on a receiving state (spec SK-07, SK-12), mutating
 * `state` (the caller stores it only if decryption then succeeds):
 * - behind the chain with a stored skipped seed: that seed, removed from the list;
 * - behind the chain otherwise: `duplicate_message`;
 * - more than 25,000 ahead: `counter_too_large`;
 * - otherwise: steps forward, storing the seeds in between (keeping the newest 2,000).
 */
export function takeReceivingSeed(state: SenderKeyState, iteration: number): Uint8Array {
  const ck = chainOf(state);
  if (iteration < ck.iteration) {
    const index = state.skippedKeys.findIndex((k) => k.iteration === iteration);
    if (index < 0) throw new ProtocolError("duplicate_message");
    const [found] = state.skippedKeys.splice(index, 1);
    return (found as { seed: Uint8Array }).seed;
  }
  if (iteration - ck.iteration > MAX_FORWARD_JUMPS) throw new ProtocolError("counter_too_large");
  if (iteration >= MAX_ITERATION) throw new ProtocolError("counter_too_large");
  let chainKey = ck.seed;
  // Seeds more than MAX_SKIPPED_SEEDS behind `iteration` would be trimmed below anyway: only
  // step the chain for them (a 25,000-iteration jump then costs hashes, not objects).
  const firstKept = iteration - MAX_SKIPPED_SEEDS;
  for (let i = ck.iteration; i < iteration; i++) {
    if (i >= firstKept) {
      const step = chainStep(chainKey);
      state.skippedKeys.push(create(SenderMessageKeySchema, { iteration: i, seed: step.seed }));
      chainKey = step.nextChainKey;
    } else {
      chainKey = nextChainKey(chainKey);
    }
  }
  if (state.skippedKeys.length > MAX_SKIPPED_SEEDS) {
    state.skippedKeys.splice(0, state.skippedKeys.length - MAX_SKIPPED_SEEDS);
  }
  const { seed, nextChainKey: after } = chainStep(chainKey);
  // A new chain-key message (the old one may be shared with a remembered record).
  state.chainKey = { ...ck, iteration: iteration + 1, seed: after };
  return seed;
}
