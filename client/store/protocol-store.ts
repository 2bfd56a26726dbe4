/**
 * The protocol stores (identity, trust, prekeys, signed prekeys, Kyber prekeys, sessions) on
 * top of the client's `StateStore`, with securecomm.storage.v1 records as values.
 *
 * Owns: `KvProtocolStore` (client/store's `ProtocolStore` interface) and the key layout of
 * those records. Writes go to the running transaction, so they commit together with the room
 * or mailbox event that caused them; a write outside a transaction is a bug (TypeError).
 * Does not own: the record formats (client/store/record-codec.ts), sender keys
 * (client/room/sender-key-store.ts), rooms and the account (their own modules).
 */

import type {
  KyberPreKeyRecord,
  PreKeyRecord,
  SignedPreKeyRecord,
  TrustedIdentityRecord,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import type { SessionRecord } from "../../gen/securecomm/storage/v1/session_pb.js";
import { PublicKey, type KeyPair } from "../crypto/curve.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import { addressKey, type ProtocolAddress } from "./protocol-address.js";
import {
  parseKyberPreKeyRecord,
  parsePreKeyRecord,
  parseSessionRecord,
  parseSignedPreKeyRecord,
  parseTrustedIdentityRecord,
  serializeKyberPreKeyRecord,
  serializePreKeyRecord,
  serializeSessionRecord,
  serializeSignedPreKeyRecord,
  serializeTrustedIdentityRecord,
} from "./record-codec.js";
import type { Direction, ProtocolStore } from "./store-interfaces.js";
import { identityToSave, isTrustedIdentityRecord, kyberPreKeyAfterUse } from "./trust-policy.js";
import type { StateStore, Txn } from "./state-store.js";

/** Key prefixes of the protocol records in the key-value store. */
export const KEYS = {
  trusted: "trusted/",
  preKey: "prekey/",
  signedPreKey: "signed-prekey/",
  kyberPreKey: "kyber-prekey/",
  session: "session/",
} as const;

/** Every protocol store over the client's `StateStore` (spec ID-11 trust on first use). */
export class KvProtocolStore implements ProtocolStore {
  readonly #state: StateStore;
  readonly #identity: IdentityKeyPair;
  readonly #now: () => number;

  constructor(state: StateStore, identity: IdentityKeyPair, now: () => number) {
    this.#state = state;
    this.#identity = identity;
    this.#now = now;
  }

  #txn(): Txn {
    const t = this.#state.active;
    if (t === undefined) throw new TypeError("protocol store written outside a transaction");
    return t;
  }

  async getIdentityKeyPair(): Promise<KeyPair> {
    return this.#identity.keyPair;
  }

  async getLocalRegistrationId(): Promise<number> {
    return this.#identity.registrationId;
  }

  /** The trusted-identity record of an address name, if any. */
  trustedRecord(name: string): TrustedIdentityRecord | undefined {
    const bytes = this.#state.get(KEYS.trusted + name);
    return bytes === undefined ? undefined : parseTrustedIdentityRecord(bytes);
  }

  /** Stores a trusted-identity record as is (verification changes). */
  putTrustedRecord(name: string, record: TrustedIdentityRecord): void {
    this.#txn().put(KEYS.trusted + name, serializeTrustedIdentityRecord(record));
  }

  async saveIdentity(address: ProtocolAddress, key: PublicKey): Promise<boolean> {
    const save = identityToSave(this.trustedRecord(address.name), address, key, this.#now());
    if (save === undefined) return false;
    this.putTrustedRecord(address.name, save.record);
    return save.replaced;
  }

  async isTrustedIdentity(address: ProtocolAddress, key: PublicKey, direction: Direction): Promise<boolean> {
    // A different key for a stored address is a forgery (ID-11: address = f(key)).
    return isTrustedIdentityRecord(this.trustedRecord(address.name), key, direction);
  }

  async getIdentity(address: ProtocolAddress): Promise<PublicKey | undefined> {
    const existing = this.trustedRecord(address.name);
    return existing === undefined ? undefined : PublicKey.deserialize(existing.identityKey);
  }

  async loadPreKey(id: number): Promise<PreKeyRecord | undefined> {
    const bytes = this.#state.get(KEYS.preKey + id);
    return bytes === undefined ? undefined : parsePreKeyRecord(bytes);
  }

  async storePreKey(record: PreKeyRecord): Promise<void> {
    this.#txn().put(KEYS.preKey + record.id, serializePreKeyRecord(record));
  }

  async removePreKey(id: number): Promise<void> {
    this.#txn().delete(KEYS.preKey + id);
  }

  async loadSignedPreKey(id: number): Promise<SignedPreKeyRecord | undefined> {
    const bytes = this.#state.get(KEYS.signedPreKey + id);
    return bytes === undefined ? undefined : parseSignedPreKeyRecord(bytes);
  }

  async storeSignedPreKey(record: SignedPreKeyRecord): Promise<void> {
    this.#txn().put(KEYS.signedPreKey + record.id, serializeSignedPreKeyRecord(record));
  }

  /** Deletes a signed prekey (ID-10: replaced keys are deleted after 30 days). */
  removeSignedPreKey(id: number): void {
    this.#txn().delete(KEYS.signedPreKey + id);
  }

  /** Every signed prekey record held. */
  signedPreKeys(): SignedPreKeyRecord[] {
    return this.#state.list(KEYS.signedPreKey).map(([, v]) => parseSignedPreKeyRecord(v));
  }

  async loadKyberPreKey(id: number): Promise<KyberPreKeyRecord | undefined> {
    const bytes = this.#state.get(KEYS.kyberPreKey + id);
    return bytes === undefined ? undefined : parseKyberPreKeyRecord(bytes);
  }

  async storeKyberPreKey(record: KyberPreKeyRecord): Promise<void> {
    this.#txn().put(KEYS.kyberPreKey + record.id, serializeKyberPreKeyRecord(record));
  }

  /** Deletes a Kyber prekey (replaced last-resort keys after 30 days, ID-10). */
  removeKyberPreKey(id: number): void {
    this.#txn().delete(KEYS.kyberPreKey + id);
  }

  /** Every Kyber prekey record held. */
  kyberPreKeys(): KyberPreKeyRecord[] {
    return this.#state.list(KEYS.kyberPreKey).map(([, v]) => parseKyberPreKeyRecord(v));
  }

  async markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: Uint8Array): Promise<void> {
    const record = await this.loadKyberPreKey(id);
    if (record === undefined) return;
    const after = kyberPreKeyAfterUse(record, signedPreKeyId, baseKey);
    if (after === undefined) this.#txn().delete(KEYS.kyberPreKey + id);
    else await this.storeKyberPreKey(after);
  }

  async loadSession(address: ProtocolAddress): Promise<SessionRecord | undefined> {
    const bytes = this.#state.get(KEYS.session + addressKey(address));
    return bytes === undefined ? undefined : parseSessionRecord(bytes);
  }

  async storeSession(address: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.#txn().put(KEYS.session + addressKey(address), serializeSessionRecord(record));
  }

  toString(): string {
    return "[KvProtocolStore: redacted]";
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
