/**
 * Decrypting one SignalMessage with the Double Ratchet (message version 4) and SPQR (spqr.ts).
 *
 * Owns: the receiving transition `(state, bytes) → (state', plaintext)`: chain selection, the
 * DH ratchet step on a new ratchet key, skipped-key bookkeeping within the limits, SPQR
 * receive, MAC check, AES-256-CBC. Pure: never mutates its input and returns a new state only
 * when the message authenticated and decrypted, so a failure changes nothing (spec DR-13).
 * Randomness (the next sending ratchet key) is injectable for vectors.
 * Does not own: choosing among session states (client/session) or identity trust.
 */

import { create } from "@bufbuild/protobuf";
import {
  type ReceiverChain,
  ReceiverChainSchema,
  SenderChainSchema,
  type SessionState,
  SessionStateSchema,
  type SkippedMessageKey,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import { constantTimeEqual } from "../crypto/bytes.js";
import { aes256CbcDecrypt } from "../crypto/cipher.js";
import { PrivateKey, PublicKey } from "../crypto/curve.js";
import { isProtocolError, ProtocolError } from "../errors.js";
import { MAX_FORWARD_JUMPS, MAX_MESSAGE_KEYS, MAX_RECEIVER_CHAINS, MESSAGE_VERSION } from "./constants.js";
import { chainStep, messageKeys, nextChainKey, rootStep } from "./kdf-chains.js";
import { verifyMac } from "./mac.js";
import { parseSignalMessage, type UnverifiedSignalMessage } from "./signal-message.js";
import { spqrReceive } from "./spqr.js";
import { chainKeyMessage, skippedKeyMessage } from "./state-messages.js";

/** Options of `ratchetDecrypt`. */
export interface RatchetDecryptOptions {
  /** Source of the next sending ratchet key on a DH step; defaults to a fresh CSPRNG key. */
  readonly newRatchetKey?: () => PrivateKey;
}

/** Result of decrypting: the advanced state and the plaintext. */
export interface RatchetDecryptResult {
  readonly state: SessionState;
  readonly plaintext: Uint8Array;
}

function parsePublicKey(bytes: Uint8Array): PublicKey {
  try {
    return PublicKey.deserialize(bytes);
  } catch (e) {
    if (isProtocolError(e)) throw e;
    throw new ProtocolError("invalid_key", { cause: e });
  }
}

/** Takes the seed for `counter` from `chain`, returning it and the chain after (spec DR-07..DR-09). */
function seedFor(chain: ReceiverChain, counter: number): { seed: Uint8Array; chain: ReceiverChain } {
  const ck = chain.chainKey;
  if (ck === undefined) throw new ProtocolError("no_session");
  if (counter < ck.index) {
    const found = chain.skippedKeys.find((k) => k.counter === counter);
    // Behind the chain with no cached key: already received (or dropped past the limit).
    if (found === undefined) throw new ProtocolError("duplicate_message");
    return {
      seed: found.seed,
      chain: create(ReceiverChainSchema, { ...chain, skippedKeys: chain.skippedKeys.filter((k) => k !== found) }),
    };
  }
  if (counter - ck.index > MAX_FORWARD_JUMPS) throw new ProtocolError("counter_too_large");
  const skipped: SkippedMessageKey[] = [...chain.skippedKeys];
  let key = ck.key;
  // Seeds more than MAX_MESSAGE_KEYS behind `counter` would be dropped below anyway: skip
  // building them (a 25,000-message jump then costs hashes, not objects).
  const firstKept = counter - MAX_MESSAGE_KEYS;
  for (let i = ck.index; i < counter; i++) {
    if (i >= firstKept) {
      const step = chainStep(key);
      skipped.push(skippedKeyMessage(i, step.seed));
      key = step.nextChainKey;
    } else {
      key = nextChainKey(key);
    }
  }
  const { seed, nextChainKey: after } = chainStep(key);
  const kept = skipped.length > MAX_MESSAGE_KEYS ? skipped.slice(skipped.length - MAX_MESSAGE_KEYS) : skipped;
  return {
    seed,
    chain: create(ReceiverChainSchema, {
      ...chain,
      chainKey: chainKeyMessage(counter + 1, after),
      skippedKeys: kept,
    }),
  };
}

/**
 * Decrypts SignalMessage bytes with `state` (spec DR-07..DR-13, PQ-05). `message` may also be
 * the result of `parseSignalMessage` on those bytes, so a caller that already parsed them (to
 * validate before touching stores, or to try several states) does not parse them again; the
 * MAC is checked here either way, over the parsed `macInput`. Throws ProtocolError:
 * "invalid_version"/"invalid_message" (malformed), "invalid_key" (bad ratchet key or all-zero
 * DH), "duplicate_message", "counter_too_large", "bad_mac", "invalid_ciphertext", "no_session".
 */
export async function ratchetDecrypt(
  state: SessionState,
  message: Uint8Array | UnverifiedSignalMessage,
  options: RatchetDecryptOptions = {},
): Promise<RatchetDecryptResult> {
  return ratchetDecryptParsed(state, message instanceof Uint8Array ? parseSignalMessage(message) : message, options);
}

async function ratchetDecryptParsed(
  state: SessionState,
  message: UnverifiedSignalMessage,
  options: RatchetDecryptOptions,
): Promise<RatchetDecryptResult> {
  const sender = state.senderChain;
  const pq = state.pqRatchet;
  if (state.version !== MESSAGE_VERSION || sender === undefined || sender.chainKey === undefined || pq === undefined) {
    throw new ProtocolError("no_session");
  }
  let rootKey = state.rootKey;
  let previousCounter = state.previousCounter;
  let senderChain = sender;
  let chains = state.receiverChains;
  let position = chains.findIndex((c) => constantTimeEqual(c.ratchetPublicKey, message.ratchetKey));
  if (position < 0) {
    // A new ratchet key: DH ratchet step (spec DR-08). Check the counter first so a forged
    // far-ahead message costs no DH.
    if (message.counter > MAX_FORWARD_JUMPS) throw new ProtocolError("counter_too_large");
    const theirKey = parsePublicKey(message.ratchetKey);
    // The state stores our public ratchet key beside the private one: a cheap native import.
    const ours = PrivateKey.deserializeWithClaimedPublicKey(sender.ratchetPrivateKey, sender.ratchetPublicKey);
    const receiving = rootStep(rootKey, await ours.agree(theirKey));
    // Generated natively where possible: public half and import in one call (curve.ts).
    const fresh = options.newRatchetKey?.() ?? (await PrivateKey.generateAsync({ reloaded: true }));
    const sending = rootStep(receiving.rootKey, await fresh.agree(theirKey));
    rootKey = sending.rootKey;
    const index = sender.chainKey.index;
    previousCounter = index > 0 ? index - 1 : 0;
    senderChain = create(SenderChainSchema, {
      ratchetPublicKey: (await fresh.getPublicKeyAsync()).serialize(),
      ratchetPrivateKey: fresh.serialize(),
      chainKey: chainKeyMessage(0, sending.chainKey),
    });
    const chain = create(ReceiverChainSchema, {
      ratchetPublicKey: message.ratchetKey,
      chainKey: chainKeyMessage(0, receiving.chainKey),
      skippedKeys: [],
    });
    chains = [chain, ...chains].slice(0, MAX_RECEIVER_CHAINS);
    position = 0;
  }
  const current = chains[position];
  if (current === undefined) throw new ProtocolError("no_session");
  const { seed, chain } = seedFor(current, message.counter);
  const spqr = spqrReceive(pq, message.pqRatchet);
  const keys = messageKeys(seed, spqr.key);
  verifyMac(keys.macKey, state.remoteIdentityKey, state.localIdentityKey, message.macInput, message.mac);
  const plaintext = aes256CbcDecrypt(keys.cipherKey, keys.iv, message.ciphertext);
  const { pendingPreKey: _acknowledged, ...rest } = state;
  const next = create(SessionStateSchema, {
    ...rest,
    rootKey,
    previousCounter,
    senderChain,
    receiverChains: chains.map((c, i) => (i === position ? chain : c)),
    pqRatchet: spqr.state,
  });
  return { state: next, plaintext };
}
