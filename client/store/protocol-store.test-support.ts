/**
 * The production protocol store for tests of the layers below the client's transactions.
 *
 * Owns: `TestProtocolStore`, the `ProtocolStore` interface over the one implementation
 * (`KvProtocolStore` on a `StateStore` over a `MemoryKeyValueStore`, STYLE.md "one
 * implementation per interface"), running each call made outside a transaction in a
 * transaction of its own (the session layer's tests drive ciphers directly, as the room engine
 * does inside its transactions), plus `snapshot()` / `open(…, snapshot)` for byte-for-byte
 * comparisons and restarts. Tests only; it adds no storage behaviour of its own.
 */

import type { KyberPreKeyRecord, PreKeyRecord, SignedPreKeyRecord } from "../../gen/securecomm/storage/v1/keys_pb.js";
import type { SessionRecord } from "../../gen/securecomm/storage/v1/session_pb.js";
import type { KeyPair, PublicKey } from "../crypto/curve.js";
import { IdentityKeyPair } from "../keys/identity.js";
import { MemoryKeyValueStore } from "./kv-store.js";
import { addressKey, type ProtocolAddress } from "./protocol-address.js";
import { KEYS, KvProtocolStore } from "./protocol-store.js";
import { StateStore } from "./state-store.js";
import type { Direction, ProtocolStore } from "./store-interfaces.js";

/** Every stored entry, keys sorted: equal snapshots mean byte-identical stores. */
export type StoreSnapshot = ReadonlyMap<string, Uint8Array>;

/** `KvProtocolStore` over memory, each call outside a transaction committed on its own. */
export class TestProtocolStore implements ProtocolStore {
  readonly state: StateStore;
  readonly kv: MemoryKeyValueStore;
  readonly store: KvProtocolStore;

  private constructor(kv: MemoryKeyValueStore, state: StateStore, store: KvProtocolStore) {
    this.kv = kv;
    this.state = state;
    this.store = store;
  }

  /** A store for `identity`, empty or holding exactly the entries of `snapshot`. */
  static async open(identity: KeyPair, registrationId: number, now: () => number, snapshot?: StoreSnapshot): Promise<TestProtocolStore> {
    const kv = new MemoryKeyValueStore();
    if (snapshot !== undefined) await kv.write([...snapshot].map(([key, value]) => ({ key, value: Uint8Array.from(value) })));
    const state = await StateStore.open(kv);
    return new TestProtocolStore(kv, state, new KvProtocolStore(state, new IdentityKeyPair(identity, registrationId), now));
  }

  /** Runs `fn` in the running transaction, or in one of its own. */
  tx<T>(fn: () => Promise<T>): Promise<T> {
    return this.state.active !== undefined ? fn() : this.state.transaction(fn);
  }

  /** Every committed entry (a copy), keys sorted. */
  snapshot(): StoreSnapshot {
    return new Map(this.state.list("").map(([k, v]) => [k, Uint8Array.from(v)]));
  }

  /** How many uses of last-resort Kyber prekey `id` the store remembers as entries (PX-11). */
  rememberedKyberUses(id: number): number {
    return this.state.list(`${KEYS.kyberPreKeyUse}${id}/`).length;
  }

  /** Deletes the session with `address` (a lost session). */
  async deleteSession(address: ProtocolAddress): Promise<void> {
    await this.state.transaction(async (t) => t.delete(KEYS.session + addressKey(address)));
  }

  getIdentityKeyPair(): Promise<KeyPair> {
    return this.store.getIdentityKeyPair();
  }
  getLocalRegistrationId(): Promise<number> {
    return this.store.getLocalRegistrationId();
  }
  saveIdentity(address: ProtocolAddress, key: PublicKey): Promise<boolean> {
    return this.tx(() => this.store.saveIdentity(address, key));
  }
  isTrustedIdentity(address: ProtocolAddress, key: PublicKey, direction: Direction): Promise<boolean> {
    return this.store.isTrustedIdentity(address, key, direction);
  }
  getIdentity(address: ProtocolAddress): Promise<PublicKey | undefined> {
    return this.store.getIdentity(address);
  }
  loadPreKey(id: number): Promise<PreKeyRecord | undefined> {
    return this.store.loadPreKey(id);
  }
  storePreKey(record: PreKeyRecord): Promise<void> {
    return this.tx(() => this.store.storePreKey(record));
  }
  removePreKey(id: number): Promise<void> {
    return this.tx(() => this.store.removePreKey(id));
  }
  loadSignedPreKey(id: number): Promise<SignedPreKeyRecord | undefined> {
    return this.store.loadSignedPreKey(id);
  }
  storeSignedPreKey(record: SignedPreKeyRecord): Promise<void> {
    return this.tx(() => this.store.storeSignedPreKey(record));
  }
  loadKyberPreKey(id: number): Promise<KyberPreKeyRecord | undefined> {
    return this.store.loadKyberPreKey(id);
  }
  storeKyberPreKey(record: KyberPreKeyRecord): Promise<void> {
    return this.tx(() => this.store.storeKyberPreKey(record));
  }
  markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: Uint8Array): Promise<void> {
    return this.tx(() => this.store.markKyberPreKeyUsed(id, signedPreKeyId, baseKey));
  }
  kyberPreKeyUsedWith(record: KyberPreKeyRecord, signedPreKeyId: number, baseKey: Uint8Array): Promise<boolean> {
    return this.store.kyberPreKeyUsedWith(record, signedPreKeyId, baseKey);
  }
  loadSession(address: ProtocolAddress): Promise<SessionRecord | undefined> {
    return this.store.loadSession(address);
  }
  storeSession(address: ProtocolAddress, record: SessionRecord): Promise<void> {
    return this.tx(() => this.store.storeSession(address, record));
  }
}
