/**
 * The stores the session layer reads and writes.
 *
 * Owns: the async interfaces for the identity, one-time prekey, signed prekey, Kyber prekey
 * and session stores. Records are the securecomm.storage.v1 messages, so any backend (memory,
 * file, IndexedDB) persists them with `toBinary` and the same bytes round-trip.
 * Does not own: implementations (one: protocol-store.ts, over any key-value backend).
 */

import type {
  KyberPreKeyRecord,
  PreKeyRecord,
  SignedPreKeyRecord,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import type { SessionRecord } from "../../gen/securecomm/storage/v1/session_pb.js";
import type { KeyPair, PublicKey } from "../crypto/curve.js";
import type { ProtocolAddress } from "./protocol-address.js";

/** Whether an identity is checked before sending to it or after receiving from it. */
export type Direction = "sending" | "receiving";

/** Our identity and what we trust of others (trust on first use; spec ID-11). */
export interface IdentityKeyStore {
  /** Our identity key pair. */
  getIdentityKeyPair(): Promise<KeyPair>;
  /** Our registration id (1..16380). */
  getLocalRegistrationId(): Promise<number>;
  /**
   * Records `key` as the trusted identity of `address` (first use, or the user accepting a
   * changed key). Resolves true when it replaced a different key.
   */
  saveIdentity(address: ProtocolAddress, key: PublicKey): Promise<boolean>;
  /** True when `key` is unknown for `address` or equals the trusted one. */
  isTrustedIdentity(address: ProtocolAddress, key: PublicKey, direction: Direction): Promise<boolean>;
  /** The trusted identity of `address`, if any. */
  getIdentity(address: ProtocolAddress): Promise<PublicKey | undefined>;
}

/** One-time EC prekeys. */
export interface PreKeyStore {
  loadPreKey(id: number): Promise<PreKeyRecord | undefined>;
  storePreKey(record: PreKeyRecord): Promise<void>;
  removePreKey(id: number): Promise<void>;
}

/** Signed EC prekeys. */
export interface SignedPreKeyStore {
  loadSignedPreKey(id: number): Promise<SignedPreKeyRecord | undefined>;
  storeSignedPreKey(record: SignedPreKeyRecord): Promise<void>;
}

/** Kyber prekeys, one-time and last-resort. */
export interface KyberPreKeyStore {
  loadKyberPreKey(id: number): Promise<KyberPreKeyRecord | undefined>;
  storeKyberPreKey(record: KyberPreKeyRecord): Promise<void>;
  /**
   * Records a use of Kyber prekey `id` with (signed prekey id, base key): a one-time key is
   * removed; a last-resort key remembers the pair so a replay is refused (spec PX-11).
   */
  markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: Uint8Array): Promise<void>;
  /**
   * Whether the last-resort Kyber prekey `record` (as the caller just loaded it) was already used
   * with (signed prekey id, base key) (spec PX-11).
   */
  kyberPreKeyUsedWith(record: KyberPreKeyRecord, signedPreKeyId: number, baseKey: Uint8Array): Promise<boolean>;
}

/** Session records, one per remote device. */
export interface SessionStore {
  loadSession(address: ProtocolAddress): Promise<SessionRecord | undefined>;
  storeSession(address: ProtocolAddress, record: SessionRecord): Promise<void>;
}

/** All five stores, as one object usually implements them. */
export interface ProtocolStore extends IdentityKeyStore, PreKeyStore, SignedPreKeyStore, KyberPreKeyStore, SessionStore {}
