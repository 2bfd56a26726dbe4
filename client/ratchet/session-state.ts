/**
 * Creating the first Double Ratchet state of a session from PQXDH output.
 *
 * Owns: the initiator's ("Alice") and responder's ("Bob") initial `SessionState`
 * (securecomm.storage.v1), including the SPQR epoch-0 state and the pending PreKey parameters.
 * Pure: randomness (the initiator's first ratchet key) is a parameter.
 * Does not own: PQXDH itself (client/handshake/pqxdh.ts) or stores.
 */

import { create } from "@bufbuild/protobuf";
import {
  ChainKeySchema,
  PendingPreKeySchema,
  ReceiverChainSchema,
  SenderChainSchema,
  type SessionState,
  SessionStateSchema,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import type { PrivateKey, PublicKey } from "../crypto/curve.js";
import { MESSAGE_VERSION } from "./constants.js";
import { rootStep } from "./kdf-chains.js";
import { initSpqr, type SpqrPhase } from "./spqr.js";

/** The three PQXDH outputs a session starts from (spec PX-06). */
export interface SessionSecrets {
  readonly rootKey: Uint8Array;
  readonly chainKey: Uint8Array;
  readonly pqAuthKey: Uint8Array;
}

/** What the initiator sends in every PreKeySignalMessage until the first reply (spec PX-08, PX-14). */
export interface PendingPreKeyParams {
  readonly preKeyId: number | undefined;
  readonly signedPreKeyId: number;
  readonly kyberPreKeyId: number;
  readonly kyberCiphertext: Uint8Array;
  readonly createdAtMs: bigint;
}

/** Inputs of the initiator's first state. */
export interface InitiatorStateParams {
  readonly secrets: SessionSecrets;
  readonly localIdentityKey: Uint8Array;
  readonly remoteIdentityKey: Uint8Array;
  readonly localRegistrationId: number;
  readonly remoteRegistrationId: number;
  /** Our PQXDH base public key, 33 bytes. */
  readonly baseKey: Uint8Array;
  /** The responder's signed prekey: its first ratchet key. */
  readonly theirSignedPreKey: PublicKey;
  /** Our first sending ratchet key (fresh randomness, injected for vectors). */
  readonly ourRatchetKey: PrivateKey;
  readonly pending: PendingPreKeyParams;
  /** SPQR phase of the new session: the Braid (2) unless a phase-1 vector asks for 1. */
  readonly spqrPhase?: SpqrPhase;
}

/**
 * The initiator's first state (spec DR-01): the PQXDH chain key becomes a receiving chain on
 * the responder's signed prekey, and one root step with a fresh ratchet key gives the sending
 * chain; SPQR starts in epoch 0 as initiator.
 */
export async function createInitiatorState(p: InitiatorStateParams): Promise<SessionState> {
  const dh = await p.ourRatchetKey.agree(p.theirSignedPreKey);
  const step = rootStep(p.secrets.rootKey, dh);
  return create(SessionStateSchema, {
    version: MESSAGE_VERSION,
    localIdentityKey: p.localIdentityKey,
    remoteIdentityKey: p.remoteIdentityKey,
    rootKey: step.rootKey,
    previousCounter: 0,
    senderChain: create(SenderChainSchema, {
      ratchetPublicKey: (await p.ourRatchetKey.getPublicKeyAsync()).serialize(),
      ratchetPrivateKey: p.ourRatchetKey.serialize(),
      chainKey: create(ChainKeySchema, { index: 0, key: step.chainKey }),
    }),
    receiverChains: [
      create(ReceiverChainSchema, {
        ratchetPublicKey: p.theirSignedPreKey.serialize(),
        chainKey: create(ChainKeySchema, { index: 0, key: p.secrets.chainKey }),
        skippedKeys: [],
      }),
    ],
    pendingPreKey: create(PendingPreKeySchema, {
      ...(p.pending.preKeyId === undefined ? {} : { preKeyId: p.pending.preKeyId }),
      signedPreKeyId: p.pending.signedPreKeyId,
      baseKey: p.baseKey,
      kyberPreKeyId: p.pending.kyberPreKeyId,
      kyberCiphertext: p.pending.kyberCiphertext,
      createdAtMs: p.pending.createdAtMs,
    }),
    remoteRegistrationId: p.remoteRegistrationId,
    localRegistrationId: p.localRegistrationId,
    baseKey: p.baseKey,
    pqRatchet: initSpqr(p.secrets.pqAuthKey, true, p.spqrPhase),
  });
}

/** Inputs of the responder's first state. */
export interface ResponderStateParams {
  readonly secrets: SessionSecrets;
  readonly localIdentityKey: Uint8Array;
  readonly remoteIdentityKey: Uint8Array;
  readonly localRegistrationId: number;
  readonly remoteRegistrationId: number;
  /** The initiator's base public key, 33 bytes. */
  readonly baseKey: Uint8Array;
  /** Our signed prekey pair: our first ratchet key. */
  readonly ourSignedPreKey: PrivateKey;
  /** SPQR phase of the new session: the Braid (2) unless a phase-1 vector asks for 1. */
  readonly spqrPhase?: SpqrPhase;
}

/**
 * The responder's first state (spec DR-02): the PQXDH chain key is the sending chain on our
 * signed prekey; the initiator's first message then performs the first DH ratchet step.
 */
export function createResponderState(p: ResponderStateParams): SessionState {
  return create(SessionStateSchema, {
    version: MESSAGE_VERSION,
    localIdentityKey: p.localIdentityKey,
    remoteIdentityKey: p.remoteIdentityKey,
    rootKey: p.secrets.rootKey,
    previousCounter: 0,
    senderChain: create(SenderChainSchema, {
      ratchetPublicKey: p.ourSignedPreKey.getPublicKey().serialize(),
      ratchetPrivateKey: p.ourSignedPreKey.serialize(),
      chainKey: create(ChainKeySchema, { index: 0, key: p.secrets.chainKey }),
    }),
    receiverChains: [],
    remoteRegistrationId: p.remoteRegistrationId,
    localRegistrationId: p.localRegistrationId,
    baseKey: p.baseKey,
    pqRatchet: initSpqr(p.secrets.pqAuthKey, false, p.spqrPhase),
  });
}
