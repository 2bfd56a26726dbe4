/**
 * The protocol stores (identity, trust, prekeys, signed prekeys, Kyber prekeys, sessions) on
 * top of the client's `StateStore`, with securecomm.storage.v1 records as values.
 *
 * Owns: `KvProtocolStore` (client/store's `ProtocolStore` interface) and the key layout of
 * those records. Writes go to the running transaction, so they commit together with the room
 * or mailbox event that caused them; a write outside a transaction is a bug (TypeError).
 * Session records are read and written on every message: the store keeps the last record it
 * parsed or stored per address (frozen) beside the exact bytes it came from, and a load whose
 * stored bytes are those bytes returns it instead of parsing again (`MAX_PARSED_SESSIONS`).
 * Anything else in the store — a transaction that rolled back, another writer, a restored
 * snapshot — means other bytes, so a parse: a load always returns the stored bytes' record,
 * and a failed decryption, which stores nothing, changes nothing (spec DR-13).
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
import { bytesToHex } from "../crypto/bytes.js";
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
import { identityToSave, isTrustedIdentityRecord, legacyListRemembersUse } from "./trust-policy.js";
import type { StateStore, Txn } from "./state-store.js";

/** Key prefixes of the protocol records in the key-value store. */
export const KEYS = {
  trusted: "trusted/",
  preKey: "prekey/",
  signedPreKey: "signed-prekey/",
  kyberPreKey: "kyber-prekey/",
  /** One entry per use of a last-resort Kyber prekey: `<kyber id>/<signed prekey id>/<base key hex>` (PX-11). */
  kyberPreKeyUse: "kyber-prekey-use/",
  session: "session/",
} as const;

/**
 * Session records kept parsed per store: one per remote device in use, a few kilobytes each
 * (SPQR's Braid state); the least recently used beyond it are parsed again when next loaded.
 */
export const MAX_PARSED_SESSIONS = 256;

/** A parsed session record and the stored bytes it is the record of. */
interface ParsedSession {
  readonly bytes: Uint8Array;
  readonly record: SessionRecord;
}

/**
 * Freezes `value` and every object and array under it (not byte arrays, which cannot be
 * frozen), so a cached record cannot be changed in place: a change throws (ES modules are
 * strict) instead of leaking into later loads. Stops at objects already frozen: records share
 * unchanged states and chains with the record they were made from.
 */
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || value instanceof Uint8Array || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
  return value;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The value of a remembered-use entry (its key is what matters). */
const REMEMBERED = Uint8Array.of(1);

/** The store key remembering one use of last-resort Kyber prekey `id` (PX-11). */
function kyberPreKeyUseKey(id: number, signedPreKeyId: number, baseKey: Uint8Array): string {
  return `${KEYS.kyberPreKeyUse}${id}/${signedPreKeyId}/${bytesToHex(baseKey)}`;
}

/** Every protocol store over the client's `StateStore` (spec ID-11 trust on first use). */
export class KvProtocolStore implements ProtocolStore {
  readonly #state: StateStore;
  readonly #identity: IdentityKeyPair;
  readonly #now: () => number;
  /** Parsed session records by store key, least recently used first. */
  readonly #parsed = new Map<string, ParsedSession>();

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

  /**
   * Deletes a signed prekey (ID-10: replaced keys are deleted after 30 days), and the remembered
   * last-resort Kyber uses made with it: a PreKey message naming a deleted signed prekey is
   * refused as `missing_prekey` before the replay check (PX-07, PX-11), so they guard nothing.
   */
  removeSignedPreKey(id: number): void {
    const t = this.#txn();
    t.delete(KEYS.signedPreKey + id);
    for (const [key] of t.list(KEYS.kyberPreKeyUse)) {
      if (key.split("/")[2] === String(id)) t.delete(key);
    }
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

  /** Deletes a Kyber prekey (replaced last-resort keys after 30 days, ID-10) and the uses remembered with it. */
  removeKyberPreKey(id: number): void {
    const t = this.#txn();
    t.delete(KEYS.kyberPreKey + id);
    for (const [key] of t.list(`${KEYS.kyberPreKeyUse}${id}/`)) t.delete(key);
  }

  /** Every Kyber prekey record held. */
  kyberPreKeys(): KyberPreKeyRecord[] {
    return this.#state.list(KEYS.kyberPreKey).map(([, v]) => parseKyberPreKeyRecord(v));
  }

  /**
   * PX-11: a one-time Kyber prekey is deleted; a use of a last-resort one is remembered as an
   * entry of its own, so a use costs one small write however often the key has served (the
   * record itself is not rewritten).
   */
  async markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: Uint8Array): Promise<void> {
    const record = await this.loadKyberPreKey(id);
    if (record === undefined) return;
    if (!record.lastResort) this.#txn().delete(KEYS.kyberPreKey + id);
    else this.#txn().put(kyberPreKeyUseKey(id, signedPreKeyId, baseKey), REMEMBERED);
  }

  async kyberPreKeyUsedWith(record: KyberPreKeyRecord, signedPreKeyId: number, baseKey: Uint8Array): Promise<boolean> {
    if (this.#state.get(kyberPreKeyUseKey(record.id, signedPreKeyId, baseKey)) !== undefined) return true;
    return legacyListRemembersUse(record, signedPreKeyId, baseKey);
  }

  /**
   * The stored session record of `address`, if any. The record is frozen and may be shared
   * with earlier and later loads of the same bytes: build a new one (session-record.ts
   * `promoteState`, the pure ratchet functions) rather than changing it.
   */
  async loadSession(address: ProtocolAddress): Promise<SessionRecord | undefined> {
    const key = KEYS.session + addressKey(address);
    const bytes = this.#state.get(key);
    if (bytes === undefined) return undefined;
    const known = this.#parsed.get(key);
    if (known !== undefined && sameBytes(known.bytes, bytes)) {
      this.#remember(key, known);
      return known.record;
    }
    const record = deepFreeze(parseSessionRecord(bytes));
    this.#remember(key, { bytes, record });
    return record;
  }

  /**
   * Stores `record` for `address` in the running transaction. The record is frozen and kept
   * as the parsed form of the bytes written, so the next load of those bytes returns it.
   */
  async storeSession(address: ProtocolAddress, record: SessionRecord): Promise<void> {
    const key = KEYS.session + addressKey(address);
    const txn = this.#txn();
    txn.put(key, serializeSessionRecord(record));
    // The transaction's own copy of the bytes: what a load reads back once it commits (and
    // not what it reads if it rolls back, so then the record is parsed from the old bytes).
    const written = txn.get(key);
    if (written !== undefined) this.#remember(key, { bytes: written, record: deepFreeze(record) });
  }

  #remember(key: string, entry: ParsedSession): void {
    this.#parsed.delete(key);
    this.#parsed.set(key, entry);
    if (this.#parsed.size > MAX_PARSED_SESSIONS) {
      const oldest = this.#parsed.keys().next();
      if (oldest.done !== true) this.#parsed.delete(oldest.value);
    }
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
