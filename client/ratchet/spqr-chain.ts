/**
 * SPQR chains across epochs (phase 2): one sending and one receiving chain per chain epoch.
 *
 * Owns: the chain epochs of a Braid state (`PqChainEpoch` links and `next_root`), adding an
 * epoch from an epoch secret, and deriving sending and receiving keys with out-of-order
 * bookkeeping (spec PQ-15, PQ-16). Pure: returns new objects, never mutates its input.
 * Does not own: the Braid state machine that produces epoch secrets (spqr-braid.ts).
 */

import { create } from "@bufbuild/protobuf";
import {
  type PqChainEpoch,
  PqChainEpochSchema,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import { be32, concatBytes } from "../crypto/bytes.js";
import { hkdfSha256 } from "../crypto/kdf.js";
import { ProtocolError } from "../errors.js";
import {
  KEY_LENGTH,
  SPQR_CHAIN_ADD_EPOCH_INFO,
  SPQR_CHAIN_NEXT_INFO,
  SPQR_CHAIN_START_INFO,
  SPQR_EPOCH_MAX_FORWARD_JUMPS,
  SPQR_EPOCH_MAX_SKIPPED_KEYS,
  SPQR_MAX_EPOCHS,
} from "./constants.js";
import { pqSkippedKeyMessage } from "./state-messages.js";
/** HKDF salt of the chain start and step: 32 zero bytes. */
const ZERO_SALT = new Uint8Array(32);

/** One chain step at `counter`: `HKDF(0×32, chain, BE32(counter) ‖ "…Chain Next", 64)` → next ‖ key (spec PQ-02). */
export function spqrChainStep(chainKey: Uint8Array, counter: number): { next: Uint8Array; key: Uint8Array } {
  const out = hkdfSha256(chainKey, ZERO_SALT, concatBytes(be32(counter), SPQR_CHAIN_NEXT_INFO), 64);
  return { next: out.slice(0, 32), key: out.slice(32, 64) };
}

/** The chain part of a Braid state. */
export interface Chains {
  readonly nextRoot: Uint8Array;
  readonly links: readonly PqChainEpoch[];
}

/** Splits a 96-byte chain derivation into root and this side's send and receive keys. */
function link(epoch: number, g: Uint8Array, isInitiator: boolean): PqChainEpoch {
  const aToB = g.slice(32, 64);
  const bToA = g.slice(64, 96);
  return create(PqChainEpochSchema, {
    epoch: BigInt(epoch),
    sendChainKey: isInitiator ? aToB : bToA,
    sendCounter: 0,
    receiveChainKey: isInitiator ? bToA : aToB,
    receiveCounter: 0,
    skippedKeys: [],
  });
}

/** Chain epoch 0 from the SPQR auth key (spec PQ-01). */
export function startChains(authKey: Uint8Array, isInitiator: boolean): Chains {
  const g = hkdfSha256(authKey, ZERO_SALT, SPQR_CHAIN_START_INFO, 3 * KEY_LENGTH);
  return { nextRoot: g.slice(0, 32), links: [link(0, g, isInitiator)] };
}

/**
 * Adds chain epoch `epoch` from its epoch secret (spec PQ-15):
 * `HKDF(salt = next_root, ikm = secret, info = "Signal PQ Ratchet V1 Chain Add Epoch", 96)` →
 * next root ‖ initiator→responder ‖ responder→initiator. Only the next epoch may be added; the
 * oldest links beyond SPQR_MAX_EPOCHS are dropped.
 */
export function addEpoch(chains: Chains, epoch: number, secret: Uint8Array, isInitiator: boolean): Chains {
  const last = chains.links[chains.links.length - 1];
  if (last === undefined || Number(last.epoch) + 1 !== epoch) throw new ProtocolError("invalid_message");
  const g = hkdfSha256(secret, chains.nextRoot, SPQR_CHAIN_ADD_EPOCH_INFO, 3 * KEY_LENGTH);
  const links = [...chains.links, link(epoch, g, isInitiator)];
  return { nextRoot: g.slice(0, 32), links: links.slice(Math.max(0, links.length - SPQR_MAX_EPOCHS)) };
}

function findLink(chains: Chains, epoch: number): number {
  const i = chains.links.findIndex((l) => Number(l.epoch) === epoch);
  // An epoch we dropped or never reached: no key can be derived for it.
  if (i < 0) throw new ProtocolError("invalid_message");
  return i;
}

function replace(chains: Chains, i: number, l: PqChainEpoch): Chains {
  return { nextRoot: chains.nextRoot, links: chains.links.map((x, j) => (j === i ? l : x)) };
}

/** The next sending key of chain epoch `epoch` and its index (spec PQ-02, PQ-16). */
export function sendKey(chains: Chains, epoch: number): { chains: Chains; key: Uint8Array; index: number } {
  const i = findLink(chains, epoch);
  const l = chains.links[i] as PqChainEpoch;
  const index = l.sendCounter + 1;
  const { next, key } = spqrChainStep(l.sendChainKey, index);
  return { chains: replace(chains, i, create(PqChainEpochSchema, { ...l, sendChainKey: next, sendCounter: index })), key, index };
}

/**
 * The receiving key for `index` in chain epoch `epoch` (spec PQ-05, PQ-16): a used index is a
 * duplicate, a jump beyond SPQR_EPOCH_MAX_FORWARD_JUMPS is refused, and at most
 * SPQR_EPOCH_MAX_SKIPPED_KEYS skipped keys are kept per epoch (oldest dropped).
 */
export function receiveKey(chains: Chains, epoch: number, index: number): { chains: Chains; key: Uint8Array } {
  const i = findLink(chains, epoch);
  const l = chains.links[i] as PqChainEpoch;
  if (index <= l.receiveCounter) {
    const found = l.skippedKeys.find((k) => k.index === index);
    if (found === undefined) throw new ProtocolError("duplicate_message");
    const out = create(PqChainEpochSchema, { ...l, skippedKeys: l.skippedKeys.filter((k) => k !== found) });
    return { chains: replace(chains, i, out), key: found.key };
  }
  if (index - l.receiveCounter > SPQR_EPOCH_MAX_FORWARD_JUMPS) throw new ProtocolError("counter_too_large");
  const skipped = [...l.skippedKeys];
  let chain = l.receiveChainKey;
  let key: Uint8Array = new Uint8Array(0);
  for (let c = l.receiveCounter + 1; c <= index; c++) {
    const step = spqrChainStep(chain, c);
    chain = step.next;
    if (c < index) {
      if (c >= index - SPQR_EPOCH_MAX_SKIPPED_KEYS) skipped.push(pqSkippedKeyMessage(c, step.key));
    } else key = step.key;
  }
  const kept = skipped.slice(Math.max(0, skipped.length - SPQR_EPOCH_MAX_SKIPPED_KEYS));
  const out = create(PqChainEpochSchema, { ...l, receiveChainKey: chain, receiveCounter: index, skippedKeys: kept });
  return { chains: replace(chains, i, out), key };
}
