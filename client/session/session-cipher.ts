/**
 * Encrypting to and decrypting from one remote device over its session record.
 *
 * Owns: `SessionCipher`: choosing the state (current first, then archived; the one that
 * decrypts becomes current, Sesame), PreKeySignalMessage wrapping until the first reply, the
 * responder side of PQXDH on a PreKey message (prekey lookup, one-time prekey removal,
 * last-resort Kyber replay refusal), identity trust checks in both directions, and committing
 * to the stores only after a message authenticated and decrypted (spec DR-13, DR-17..DR-19, PX-07..PX-14).
 * Does not own: the ratchet transitions (client/ratchet) or the key agreement (handshake).
 */

import type { SessionRecord, SessionState } from "../../gen/securecomm/storage/v1/session_pb.js";
import { constantTimeEqual } from "../crypto/bytes.js";
import { PrivateKey, PublicKey } from "../crypto/curve.js";
import { KemSecretKey } from "../crypto/kem.js";
import { isProtocolError, ProtocolError } from "../errors.js";
import { pqxdhRespond } from "../handshake/pqxdh.js";
import { ratchetDecrypt, type RatchetDecryptResult } from "../ratchet/ratchet-decrypt.js";
import { ratchetEncrypt } from "../ratchet/ratchet-encrypt.js";
import { createResponderState } from "../ratchet/session-state.js";
import {
  parsePreKeySignalMessage,
  parseSignalMessage,
  serializePreKeySignalMessage,
  type UnverifiedSignalMessage,
} from "../ratchet/signal-message.js";
import type { ProtocolAddress } from "../store/protocol-address.js";
import type { ProtocolStore } from "../store/store-interfaces.js";
import { checkAddressBinding } from "./address-binding.js";
import { withStoreLock } from "./store-lock.js";
import { emptySessionRecord, findStateByBaseKey, promoteState, statesInOrder } from "./session-record.js";

/** Ciphertext message type of a SignalMessage (libsignal's `CiphertextMessageType.Whisper`). */
export const MESSAGE_TYPE_SIGNAL = 2;

/** Ciphertext message type of a PreKeySignalMessage (libsignal's `CiphertextMessageType.PreKey`). */
export const MESSAGE_TYPE_PREKEY = 3;

/** Options of the decrypt methods. */
export interface DecryptOptions {
  /**
   * The identity key the message must come from, when a layer above knows it (a sealed-sender
   * certificate, PX-13): a session or PreKey message with another remote identity is refused
   * with "untrusted_identity" and changes nothing.
   */
  readonly expectedIdentity?: PublicKey;
}

/** An encrypted message and its type, as carried in a Content envelope. */
export interface CiphertextMessage {
  readonly type: typeof MESSAGE_TYPE_SIGNAL | typeof MESSAGE_TYPE_PREKEY;
  readonly body: Uint8Array;
}

function checkExpectedIdentity(remoteIdentityKey: Uint8Array, options: DecryptOptions): void {
  if (options.expectedIdentity !== undefined && !constantTimeEqual(options.expectedIdentity.serialize(), remoteIdentityKey)) {
    throw new ProtocolError("untrusted_identity");
  }
}

function asProtocolError(e: unknown, code: "invalid_key" | "invalid_message"): never {
  if (isProtocolError(e)) throw e;
  throw new ProtocolError(code, { cause: e });
}

/**
 * Age after which a session whose first PreKeySignalMessage was never answered is no longer
 * used for sending (spec DR-20): by then the responder may have rotated the signed prekey it
 * names (ID-10), so the messages could never be read; 30 days as the spec says.
 */
export const MAX_UNACKNOWLEDGED_SESSION_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/** Options of `SessionCipher`; tests inject a clock. */
export interface SessionCipherOptions {
  /** Unix milliseconds. */
  readonly now?: () => number;
  /**
   * Require a PreKey message's identity key to be the one the sender's address names (spec
   * ID-03, ID-11). Default true; false only for peers outside SecureComm's address scheme.
   */
  readonly addressBinding?: boolean;
}

/** Pairwise encryption and decryption over a protocol store (spec DR-17, PX-08, PX-12). */
export class SessionCipher {
  readonly #store: ProtocolStore;
  readonly #now: () => number;
  readonly #addressBinding: boolean;

  constructor(store: ProtocolStore, options: SessionCipherOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#addressBinding = options.addressBinding ?? true;
  }

  /**
   * Encrypts `plaintext` to `address` with the current session (spec PX-08, PX-14): a
   * PreKeySignalMessage (type 3) until the peer replied, then a SignalMessage (type 2).
   * Throws ProtocolError "no_session" without a current state or when the current state is an
   * unanswered session older than MAX_UNACKNOWLEDGED_SESSION_AGE_MS (DR-20), and
   * "untrusted_identity" when the session's identity is no longer the trusted one (never
   * encrypt to a changed key, ID-12).
   */
  encrypt(address: ProtocolAddress, plaintext: Uint8Array): Promise<CiphertextMessage> {
    return withStoreLock(this.#store, () => this.#encrypt(address, plaintext));
  }

  async #encrypt(address: ProtocolAddress, plaintext: Uint8Array): Promise<CiphertextMessage> {
    const record = await this.#store.loadSession(address);
    const state = record?.current;
    if (record === undefined || state === undefined) throw new ProtocolError("no_session");
    const pendingSince = state.pendingPreKey?.createdAtMs;
    if (pendingSince !== undefined && BigInt(this.#now()) - pendingSince > BigInt(MAX_UNACKNOWLEDGED_SESSION_AGE_MS)) {
      throw new ProtocolError("no_session");
    }
    const remote = PublicKey.deserialize(state.remoteIdentityKey);
    if (!(await this.#store.isTrustedIdentity(address, remote, "sending"))) throw new ProtocolError("untrusted_identity");
    const result = ratchetEncrypt(state, plaintext);
    const pending = state.pendingPreKey;
    let message: CiphertextMessage = { type: MESSAGE_TYPE_SIGNAL, body: result.message };
    if (pending !== undefined) {
      message = {
        type: MESSAGE_TYPE_PREKEY,
        body: serializePreKeySignalMessage({
          preKeyId: pending.preKeyId,
          baseKey: pending.baseKey,
          identityKey: state.localIdentityKey,
          message: result.message,
          registrationId: state.localRegistrationId,
          signedPreKeyId: pending.signedPreKeyId,
          kyberPreKeyId: pending.kyberPreKeyId,
          kyberCiphertext: pending.kyberCiphertext,
        }),
      };
    }
    await this.#store.storeSession(address, promoteState(record, result.state, -1));
    return message;
  }

  /** Decrypts a message of either type (dispatch on `message.type`). */
  decryptMessage(address: ProtocolAddress, message: CiphertextMessage, options: DecryptOptions = {}): Promise<Uint8Array> {
    if (message.type === MESSAGE_TYPE_PREKEY) return this.decryptPreKey(address, message.body, options);
    if (message.type === MESSAGE_TYPE_SIGNAL) return this.decrypt(address, message.body, options);
    return Promise.reject(new ProtocolError("invalid_message"));
  }

  /**
   * Decrypts a SignalMessage (type 2) from `address` (spec DR-17): tries the current state,
   * then archived ones newest first; the one that decrypts becomes current. On failure throws
   * the current state's ProtocolError ("no_session" without states) and changes nothing.
   */
  decrypt(address: ProtocolAddress, bytes: Uint8Array, options: DecryptOptions = {}): Promise<Uint8Array> {
    return withStoreLock(this.#store, () => this.#decrypt(address, bytes, options));
  }

  async #decrypt(address: ProtocolAddress, bytes: Uint8Array, options: DecryptOptions): Promise<Uint8Array> {
    // Parsed once here (malformed → error before any store access) and handed to every state tried.
    const message = parseSignalMessage(bytes);
    const record = await this.#store.loadSession(address);
    if (record === undefined) throw new ProtocolError("no_session");
    const { result, position } = await this.#decryptWithRecord(record, message);
    checkExpectedIdentity(result.state.remoteIdentityKey, options);
    await this.#commit(address, record, result.state, position);
    return result.plaintext;
  }

  /**
   * Decrypts a PreKeySignalMessage (type 3) from `address` (spec PX-07, PX-09..PX-13). A
   * message whose base key names an existing state is decrypted with that state (the
   * initiator resends PreKey messages until it hears back; a replay is then a duplicate).
   * Otherwise PQXDH runs as responder with the named prekeys; afterwards the one-time prekey is
   * removed and the Kyber prekey marked used. Throws ProtocolError "untrusted_identity",
   * "missing_prekey", "duplicate_message" (replay on a last-resort Kyber prekey), or any
   * ratchet error; stores change only on success.
   */
  decryptPreKey(address: ProtocolAddress, bytes: Uint8Array, options: DecryptOptions = {}): Promise<Uint8Array> {
    return withStoreLock(this.#store, () => this.#decryptPreKey(address, bytes, options));
  }

  async #decryptPreKey(address: ProtocolAddress, bytes: Uint8Array, options: DecryptOptions): Promise<Uint8Array> {
    const parsed = parsePreKeySignalMessage(bytes);
    checkExpectedIdentity(parsed.identityKey, options);
    if (this.#addressBinding) checkAddressBinding(address, parsed.identityKey);
    let theirIdentity: PublicKey;
    try {
      theirIdentity = PublicKey.deserialize(parsed.identityKey);
    } catch (e) {
      asProtocolError(e, "invalid_key");
    }
    if (!(await this.#store.isTrustedIdentity(address, theirIdentity, "receiving"))) {
      throw new ProtocolError("untrusted_identity");
    }
    const inner = parseSignalMessage(parsed.message);
    const record = (await this.#store.loadSession(address)) ?? emptySessionRecord();
    const existing = findStateByBaseKey(record, parsed.baseKey);
    if (existing !== undefined) {
      if (!constantTimeEqual(existing.state.remoteIdentityKey, parsed.identityKey)) throw new ProtocolError("invalid_message");
      const result = await ratchetDecrypt(existing.state, inner);
      await this.#commit(address, record, result.state, existing.position);
      return result.plaintext;
    }

    const signed = await this.#store.loadSignedPreKey(parsed.signedPreKeyId);
    const kyber = await this.#store.loadKyberPreKey(parsed.kyberPreKeyId);
    const oneTime = parsed.preKeyId === undefined ? undefined : await this.#store.loadPreKey(parsed.preKeyId);
    if (signed === undefined || kyber === undefined || (parsed.preKeyId !== undefined && oneTime === undefined)) {
      throw new ProtocolError("missing_prekey");
    }
    if (
      kyber.lastResort &&
      (await this.#store.kyberPreKeyUsedWith(kyber, parsed.signedPreKeyId, parsed.baseKey))
    ) {
      // The same PQXDH parameters were already used with this last-resort key and the
      // session they made is gone: a replay (spec PX-11).
      throw new ProtocolError("duplicate_message");
    }
    let signedKey: PrivateKey;
    let kyberKey: KemSecretKey;
    let oneTimeKey: PrivateKey | undefined;
    try {
      signedKey = PrivateKey.deserializeWithClaimedPublicKey(signed.privateKey, signed.publicKey);
      kyberKey = KemSecretKey.deserialize(kyber.secretKey);
      oneTimeKey =
        oneTime === undefined ? undefined : PrivateKey.deserializeWithClaimedPublicKey(oneTime.privateKey, oneTime.publicKey);
    } catch (e) {
      asProtocolError(e, "invalid_key");
    }
    const identity = await this.#store.getIdentityKeyPair();
    const secrets = await pqxdhRespond({
      ourIdentity: identity,
      ourSignedPreKey: signedKey,
      ourOneTimePreKey: oneTimeKey,
      ourKyberPreKey: kyberKey,
      theirIdentity,
      theirBaseKey: parsed.baseKey,
      kyberCiphertext: parsed.kyberCiphertext,
    });
    const state = createResponderState({
      secrets,
      localIdentityKey: identity.publicKey.serialize(),
      remoteIdentityKey: parsed.identityKey,
      localRegistrationId: await this.#store.getLocalRegistrationId(),
      remoteRegistrationId: parsed.registrationId,
      baseKey: parsed.baseKey,
      ourSignedPreKey: signedKey,
    });
    const result = await ratchetDecrypt(state, inner);
    // Success: commit the session first, then consume the prekeys it used.
    await this.#store.storeSession(address, promoteState(record, result.state));
    await this.#store.saveIdentity(address, theirIdentity);
    if (parsed.preKeyId !== undefined) await this.#store.removePreKey(parsed.preKeyId);
    await this.#store.markKyberPreKeyUsed(parsed.kyberPreKeyId, parsed.signedPreKeyId, parsed.baseKey);
    return result.plaintext;
  }

  /**
   * Tries each state in order (DR-17); returns the first success. On failure throws the error
   * of the state that owns the message's ratchet key (so a replay reads "duplicate_message"),
   * else the first state's error.
   */
  async #decryptWithRecord(
    record: SessionRecord,
    message: UnverifiedSignalMessage,
  ): Promise<{ result: RatchetDecryptResult; position: number }> {
    const ratchetKey = message.ratchetKey;
    let firstError: unknown;
    let ownerError: unknown;
    for (const { state, position } of statesInOrder(record)) {
      try {
        return { result: await ratchetDecrypt(state, message), position };
      } catch (e) {
        if (!isProtocolError(e)) throw e;
        firstError ??= e;
        if (state.receiverChains.some((c) => constantTimeEqual(c.ratchetPublicKey, ratchetKey))) ownerError ??= e;
      }
    }
    throw ownerError ?? firstError ?? new ProtocolError("no_session");
  }

  /**
   * True when `address` has a current state this cipher would encrypt with: not an unanswered
   * session past MAX_UNACKNOWLEDGED_SESSION_AGE_MS (DR-20), and its identity trusted for sending.
   * Callers fetch a bundle and build a new session when this is false.
   */
  hasUsableSession(address: ProtocolAddress): Promise<boolean> {
    return withStoreLock(this.#store, () => this.#hasUsableSession(address));
  }

  async #hasUsableSession(address: ProtocolAddress): Promise<boolean> {
    const state = (await this.#store.loadSession(address))?.current;
    if (state === undefined || state.senderChain === undefined) return false;
    const pendingSince = state.pendingPreKey?.createdAtMs;
    if (pendingSince !== undefined && BigInt(this.#now()) - pendingSince > BigInt(MAX_UNACKNOWLEDGED_SESSION_AGE_MS)) {
      return false;
    }
    return this.#store.isTrustedIdentity(address, PublicKey.deserialize(state.remoteIdentityKey), "sending");
  }

  /** Checks trust of the state's identity, then stores the record with the state current. */
  async #commit(address: ProtocolAddress, record: SessionRecord, state: SessionState, position: number): Promise<void> {
    const remote = PublicKey.deserialize(state.remoteIdentityKey);
    if (!(await this.#store.isTrustedIdentity(address, remote, "receiving"))) throw new ProtocolError("untrusted_identity");
    await this.#store.storeSession(address, promoteState(record, state, position));
  }
}
