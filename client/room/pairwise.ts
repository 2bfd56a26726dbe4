/**
 * Pairwise content between members (spec RM-22): Content → pad → Signal session → sealed
 * sender → SendSealed, and the reverse for mailbox envelopes.
 *
 * Owns: `Pairwise.send` (establishing a session from a fetched and ID-08-verified bundle when
 * there is none) and `Pairwise.open`. Both must run inside a StateStore transaction: session
 * and prekey changes commit with the effects of the content. Does not own: what the content
 * means (room-engine.ts), the ratchet (client/session), sealed sender (client/sealed-sender).
 */

import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Content, ContentSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { constantTimeEqual } from "../crypto/bytes.js";
import type { PublicKey } from "../crypto/curve.js";
import { ProtocolError } from "../errors.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import { verifyPreKeyBundle } from "../keys/bundle.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import { pad, unpad } from "../padding.js";
import { parsePreKeySignalMessage } from "../ratchet/signal-message.js";
import { SessionBuilder } from "../session/session-builder.js";
import { MESSAGE_TYPE_PREKEY, MESSAGE_TYPE_SIGNAL, SessionCipher } from "../session/session-cipher.js";
import { createProtocolAddress } from "../store/protocol-address.js";
import type { Account } from "../account/account.js";
import type { KvProtocolStore } from "../store/protocol-store.js";
import type { RelayClients } from "../relay/relay-clients.js";
import { sealedSenderDecryptToContent, sealedSenderEncrypt } from "../sealed-sender/sealed-sender.js";

/** A pairwise Content received and authenticated. */
export interface ReceivedContent {
  senderIdentityKey: PublicKey;
  /** The sender's address, UUID text form. */
  sender: string;
  content: Content;
}

/** Sends and receives pairwise Content (RM-22). */
export class Pairwise {
  readonly #clients: RelayClients;
  readonly #store: KvProtocolStore;
  readonly #identity: IdentityKeyPair;
  readonly #account: Account;
  readonly #now: () => number;

  constructor(p: { clients: RelayClients; store: KvProtocolStore; identity: IdentityKeyPair; account: Account; now: () => number }) {
    this.#clients = p.clients;
    this.#store = p.store;
    this.#identity = p.identity;
    this.#account = p.account;
    this.#now = p.now;
  }

  /**
   * Encrypts and sends `content` to the member with `identityKey` (33 bytes), authorized by
   * their delivery token. Throws ProtocolError for a rejected bundle (`untrusted_identity`
   * when the relay substituted another identity, ID-08) and ConnectError for relay failures.
   */
  async send(identityKey: Uint8Array, deliveryToken: Uint8Array, content: Content): Promise<void> {
    await this.deliver(identityKey, deliveryToken, await this.seal(identityKey, content));
  }

  /**
   * Encrypts `content` for the member with `identityKey` and seals it (everything `send` does
   * but the relay call), advancing the session: the caller commits the session step together
   * with the sealed envelope it keeps for `deliver`. Same errors as `send`.
   */
  async seal(identityKey: Uint8Array, content: Content): Promise<Uint8Array> {
    const addressBytes = addressFromSerializedIdentityKey(identityKey);
    const address = createProtocolAddress(addressToString(addressBytes));
    const existing = await this.#store.loadSession(address);
    const sessionKey = existing?.current?.remoteIdentityKey;
    if (existing?.current === undefined || sessionKey === undefined || !constantTimeEqual(sessionKey, identityKey)) {
      const res = await this.#account.authed(() => this.#clients.keys.fetchPreKeyBundle({ address: addressBytes }));
      if (res.result.case !== "bundle") throw new ProtocolError("missing_prekey");
      const bundle = await verifyPreKeyBundle(res.result.value, addressBytes);
      if (!constantTimeEqual(bundle.identityKey.serialize(), identityKey)) throw new ProtocolError("untrusted_identity");
      await new SessionBuilder(this.#store, { now: this.#now }).processPreKeyBundle(address, bundle);
    }
    const message = await new SessionCipher(this.#store).encrypt(address, pad(toBinary(ContentSchema, content)));
    const envelope = await sealedSenderEncrypt(
      (await this.#store.getIdentity(address))!,
      await this.#account.senderCertificate(),
      { type: message.type === MESSAGE_TYPE_PREKEY ? "prekey_message" : "message", content: message.body },
      this.#identity.keyPair,
    );
    return envelope;
  }

  /**
   * Hands a sealed envelope from `seal` to the relay for the member with `identityKey`. Sending
   * the same envelope again is harmless: the recipient refuses the copy as a duplicate.
   */
  async deliver(identityKey: Uint8Array, deliveryToken: Uint8Array, envelope: Uint8Array): Promise<void> {
    const recipientAddress = addressFromSerializedIdentityKey(identityKey);
    await this.#clients.messages.sendSealed({ recipientAddress, deliveryToken, envelope });
  }

  /**
   * Opens a mailbox envelope (SS-08) and decrypts its Signal message (PX-12, PX-13, DR-17):
   * throws ProtocolError on any failure, with the session changes only in the transaction.
   */
  async open(bytes: Uint8Array): Promise<ReceivedContent> {
    const trustRoot = this.#account.trustRoot;
    if (trustRoot === undefined) throw new ProtocolError("invalid_certificate");
    const opened = await sealedSenderDecryptToContent(bytes, this.#identity.keyPair, trustRoot, this.#now());
    // SS-05: with one device per account a sealed message from ourselves is never legitimate.
    if (constantTimeEqual(opened.senderAddress, this.#identity.address)) throw new ProtocolError("invalid_certificate");
    const address = createProtocolAddress(opened.sender);
    if (opened.type === "prekey_message") {
      // PX-13: the PreKeySignalMessage's identity must be the certificate's.
      const parsed = parsePreKeySignalMessage(opened.content);
      if (!constantTimeEqual(parsed.identityKey, opened.senderIdentityKey.serialize())) throw new ProtocolError("untrusted_identity");
    }
    const padded = await new SessionCipher(this.#store).decryptMessage(address, {
      type: opened.type === "prekey_message" ? MESSAGE_TYPE_PREKEY : MESSAGE_TYPE_SIGNAL,
      body: opened.content,
    });
    let content: Content;
    try {
      content = fromBinary(ContentSchema, unpad(padded));
    } catch (e) {
      if (e instanceof ProtocolError) throw e;
      throw new ProtocolError("invalid_message", { cause: e });
    }
    return { senderIdentityKey: opened.senderIdentityKey, sender: opened.sender, content };
  }
}
