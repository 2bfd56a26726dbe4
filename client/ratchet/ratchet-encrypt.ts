/**
 * Encrypting one message with the Double Ratchet (message version 4) and SPQR (spqr.ts).
 *
 * Owns: the sending transition `(state, plaintext) → (state', SignalMessage bytes)`: chain
 * step, SPQR step, AES-256-CBC, truncated MAC. Synchronous; never mutates its input; its only
 * randomness is the SPQR Braid's (a key pair or an encapsulation, now and then), injectable.
 * Does not own: PreKeySignalMessage wrapping (client/session) or padding (client/padding.ts).
 */

import { create } from "@bufbuild/protobuf";
import {
  SenderChainSchema,
  type SessionState,
  SessionStateSchema,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import { concatBytes } from "../crypto/bytes.js";
import { aes256CbcEncrypt } from "../crypto/cipher.js";
import { ProtocolError } from "../errors.js";
import { computeMac } from "./mac.js";
import { chainStep, messageKeys } from "./kdf-chains.js";
import { encodeSignalMessageBody } from "./signal-message.js";
import { spqrSend } from "./spqr.js";
import type { BraidRandom } from "./spqr-braid.js";
import { MESSAGE_VERSION } from "./constants.js";
import { chainKeyMessage } from "./state-messages.js";

/** Result of encrypting: the advanced state and the SignalMessage bytes. */
export interface RatchetEncryptResult {
  readonly state: SessionState;
  readonly message: Uint8Array;
}

/**
 * Encrypts `plaintext` on the sending chain (spec DR-06, DR-10, PQ-02): counter = chain index,
 * message keys salted with the next SPQR key, MAC over sender identity ‖ receiver identity ‖
 * version ‖ protobuf. The SPQR Braid's randomness (key pairs, encapsulation) is injectable for
 * vectors. Throws ProtocolError "no_session" for a state that cannot send.
 */
export function ratchetEncrypt(
  state: SessionState,
  plaintext: Uint8Array,
  options: { readonly spqrRandom?: BraidRandom } = {},
): RatchetEncryptResult {
  const sender = state.senderChain;
  const chain = sender?.chainKey;
  const pq = state.pqRatchet;
  if (state.version !== MESSAGE_VERSION || sender === undefined || chain === undefined || pq === undefined) {
    throw new ProtocolError("no_session");
  }
  const { seed, nextChainKey } = chainStep(chain.key);
  const spqr = spqrSend(pq, options.spqrRandom);
  const keys = messageKeys(seed, spqr.key);
  const ciphertext = aes256CbcEncrypt(keys.cipherKey, keys.iv, plaintext);
  const macInput = encodeSignalMessageBody({
    ratchetKey: sender.ratchetPublicKey,
    counter: chain.index,
    previousCounter: state.previousCounter,
    ciphertext,
    pqRatchet: spqr.message,
  });
  const mac = computeMac(keys.macKey, state.localIdentityKey, state.remoteIdentityKey, macInput);
  const next = create(SessionStateSchema, {
    ...state,
    senderChain: create(SenderChainSchema, {
      ...sender,
      chainKey: chainKeyMessage(chain.index + 1, nextChainKey),
    }),
    pqRatchet: spqr.state,
  });
  return { state: next, message: concatBytes(macInput, mac) };
}
