/**
 * An in-memory implementation of every protocol store.
 *
 * Owns: `MemoryProtocolStore`, which keeps each record as its serialized storage.v1 bytes
 * (so what it hands out can never alias what it keeps, and its whole content can be compared
 * byte for byte), plus `snapshot()` / `restore()` for tests and backups.
 * Does not own: persistence (file and IndexedDB stores build on the same record codecs).
 */

import {
  type KyberPreKeyRecord,
  type PreKeyRecord,
  type SignedPreKeyRecord,
  VerificationState,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import type { SessionRecord } from "../../gen/securecomm/storage/v1/session_pb.js";
import { type KeyPair, PublicKey } from "../crypto/curve.js";
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

/** The serialized content of a memory store: one map per record kind, keys sorted. */
export type StoreSnapshot = Readonly<Record<string, ReadonlyMap<string, Uint8Array>>>;

/**
 * All five protocol stores in memory (spec ID-11 trust on first use). Holds secret keys:
 * prints as a redacted tag.
 */
export class MemoryProtocolStore implements ProtocolStore {
  readonly #identity: KeyPair;
  readonly #registrationId: number;
  #trusted = new Map<string, Uint8Array>();
  #preKeys = new Map<string, Uint8Array>();
  #signedPreKeys = new Map<string, Uint8Array>();
  #kyberPreKeys = new Map<string, Uint8Array>();
  #sessions = new Map<string, Uint8Array>();
  /** Clock for `first_seen_ms`; injectable so snapshots are deterministic in tests. */
  readonly #now: () => number;

  constructor(identity: KeyPair, registrationId: number, now: () => number = Date.now) {
    this.#identity = identity;
    this.#registrationId = registrationId;
    this.#now = now;
  }

  async getIdentityKeyPair(): Promise<KeyPair> {
    return this.#identity;
  }

  async getLocalRegistrationId(): Promise<number> {
    return this.#registrationId;
  }

  async saveIdentity(address: ProtocolAddress, key: PublicKey): Promise<boolean> {
    const existing = this.#trusted.get(address.name);
    const save = identityToSave(existing && parseTrustedIdentityRecord(existing), address, key, this.#now());
    if (save === undefined) return false;
    this.#trusted.set(address.name, serializeTrustedIdentityRecord(save.record));
    return save.replaced;
  }

  async isTrustedIdentity(address: ProtocolAddress, key: PublicKey, direction: Direction): Promise<boolean> {
    const existing = this.#trusted.get(address.name);
    return isTrustedIdentityRecord(existing && parseTrustedIdentityRecord(existing), key, direction);
  }

  /**
   * Sets the verification state of the identity stored for `address` (spec ID-11, ID-12):
   * VERIFIED after a safety-number comparison, CHANGED for a new identity the user has not
   * accepted yet (nothing is encrypted to it), UNSPECIFIED once accepted. No-op when none is stored.
   */
  async setVerification(address: ProtocolAddress, verification: VerificationState): Promise<void> {
    const existing = this.#trusted.get(address.name);
    if (existing === undefined) return;
    const record = parseTrustedIdentityRecord(existing);
    record.verification = verification;
    this.#trusted.set(address.name, serializeTrustedIdentityRecord(record));
  }

  async getIdentity(address: ProtocolAddress): Promise<PublicKey | undefined> {
    const existing = this.#trusted.get(address.name);
    return existing === undefined ? undefined : PublicKey.deserialize(parseTrustedIdentityRecord(existing).identityKey);
  }

  async loadPreKey(id: number): Promise<PreKeyRecord | undefined> {
    const bytes = this.#preKeys.get(String(id));
    return bytes === undefined ? undefined : parsePreKeyRecord(bytes);
  }

  async storePreKey(record: PreKeyRecord): Promise<void> {
    this.#preKeys.set(String(record.id), serializePreKeyRecord(record));
  }

  async removePreKey(id: number): Promise<void> {
    this.#preKeys.delete(String(id));
  }

  async loadSignedPreKey(id: number): Promise<SignedPreKeyRecord | undefined> {
    const bytes = this.#signedPreKeys.get(String(id));
    return bytes === undefined ? undefined : parseSignedPreKeyRecord(bytes);
  }

  async storeSignedPreKey(record: SignedPreKeyRecord): Promise<void> {
    this.#signedPreKeys.set(String(record.id), serializeSignedPreKeyRecord(record));
  }

  async loadKyberPreKey(id: number): Promise<KyberPreKeyRecord | undefined> {
    const bytes = this.#kyberPreKeys.get(String(id));
    return bytes === undefined ? undefined : parseKyberPreKeyRecord(bytes);
  }

  async storeKyberPreKey(record: KyberPreKeyRecord): Promise<void> {
    this.#kyberPreKeys.set(String(record.id), serializeKyberPreKeyRecord(record));
  }

  async markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: Uint8Array): Promise<void> {
    const record = await this.loadKyberPreKey(id);
    if (record === undefined) return;
    const after = kyberPreKeyAfterUse(record, signedPreKeyId, baseKey);
    if (after === undefined) this.#kyberPreKeys.delete(String(id));
    else await this.storeKyberPreKey(after);
  }

  async loadSession(address: ProtocolAddress): Promise<SessionRecord | undefined> {
    const bytes = this.#sessions.get(addressKey(address));
    return bytes === undefined ? undefined : parseSessionRecord(bytes);
  }

  async storeSession(address: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.#sessions.set(addressKey(address), serializeSessionRecord(record));
  }

  /** Every stored record as bytes, keys sorted: equal snapshots mean byte-identical stores. */
  snapshot(): StoreSnapshot {
    const copy = (m: Map<string, Uint8Array>) =>
      new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, Uint8Array.from(v)]));
    return {
      trusted: copy(this.#trusted),
      preKeys: copy(this.#preKeys),
      signedPreKeys: copy(this.#signedPreKeys),
      kyberPreKeys: copy(this.#kyberPreKeys),
      sessions: copy(this.#sessions),
    };
  }

  /** Replaces every record with those of `snapshot` (the identity key pair stays). */
  restore(snapshot: StoreSnapshot): void {
    const take = (name: string) => new Map([...(snapshot[name] ?? new Map()).entries()].map(([k, v]) => [k, Uint8Array.from(v)]));
    this.#trusted = take("trusted");
    this.#preKeys = take("preKeys");
    this.#signedPreKeys = take("signedPreKeys");
    this.#kyberPreKeys = take("kyberPreKeys");
    this.#sessions = take("sessions");
  }

  /** Prints as a redacted tag: the store holds private keys. */
  toString(): string {
    return "[MemoryProtocolStore: redacted]";
  }

  /** JSON is the redacted tag too. */
  toJSON(): string {
    return this.toString();
  }

  /** Node's inspect hook: the redacted tag. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
