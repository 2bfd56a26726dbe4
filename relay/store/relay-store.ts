/**
 * The relay's storage interface: everything the relay persists, behind one async interface
 * with two implementations, SQLite (relay/store/sqlite-store.ts, one process) and PostgreSQL
 * (relay/store/postgres-store.ts, any number of relay processes on one database), both held
 * to one contract suite (relay/store/relay-store.contract.ts; DESIGN §5, "Storage").
 *
 * Owns: the record types and the atomicity each method promises. Does not own validation of
 * client input (the services do that before calling) or any cryptography.
 *
 * Every method that resolves has made its write durable: an implementation must not resolve a
 * write before it is committed to stable storage.
 */

/** An account as stored: its address, identity key and registration id. */
export interface AccountRecord {
  address: Uint8Array;
  identityKey: Uint8Array;
  registrationId: number;
  createdAtMs: number;
}

/** A signed EC prekey or a signed Kyber prekey. */
export interface SignedKeyRecord {
  id: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

/** An unsigned one-time EC prekey. */
export interface OneTimeKeyRecord {
  id: number;
  publicKey: Uint8Array;
}

/** A validated, signature-checked prekey upload. Any part may be absent or empty. */
export interface PreKeyUpload {
  signedPreKey?: SignedKeyRecord;
  oneTimePreKeys: OneTimeKeyRecord[];
  kyberPreKeys: SignedKeyRecord[];
  lastResortKyberPreKey?: SignedKeyRecord;
}

/** What the store holds for one account's prekeys. */
export interface PreKeyCountsRecord {
  oneTimePreKeys: number;
  kyberPreKeys: number;
  signedPreKeyId: number | undefined;
  hasLastResortKyberPreKey: boolean;
}

/** A bundle taken from the store; the one-time keys in it have been deleted. */
export interface BundleRecord {
  identityKey: Uint8Array;
  registrationId: number;
  signedPreKey: SignedKeyRecord;
  oneTimePreKey: OneTimeKeyRecord | undefined;
  kyberPreKey: SignedKeyRecord;
  kyberPreKeyIsLastResort: boolean;
}

/** A queued mailbox envelope. */
export interface MailboxRecord {
  id: number;
  storedAtMs: number;
  envelope: Uint8Array;
}

/** A room as stored. */
export interface RoomRecord {
  roomId: Uint8Array;
  accessKeyHash: Uint8Array;
  /** The hash replaced by the latest rotation, so a retried rotation is idempotent. */
  previousAccessKeyHash: Uint8Array | undefined;
  createdAtMs: number;
  /** Highest sequence number ever assigned (0 if none). */
  latestSeq: number;
  /** Lowest retained sequence number, or latestSeq + 1 when the log is empty. */
  oldestRetainedSeq: number;
}

/** A room's invite box as stored (API-40): opaque bytes under the hash of its key. */
export interface InviteBoxRecord {
  addressHash: Uint8Array;
  box: Uint8Array;
}

/** A stored room event. */
export interface RoomEventRecord {
  seq: number;
  postedAtMs: number;
  envelope: Uint8Array;
}

/** The outcome of a mailbox append ("full": envelope count or byte quota of the mailbox). */
export type EnqueueResult =
  | { ok: true; id: number; storedAtMs: number }
  | { ok: false; reason: "full" | "no_recipient" | "storage_full" };

/** The outcome of a room append ("room_full": the room's byte quota). */
export type AppendResult =
  | { ok: true; seq: number; postedAtMs: number }
  | { ok: false; reason: "not_found" | "room_full" | "storage_full" };

/**
 * Byte quotas an append checks (spec/10-relay-api.md API-31): envelope bytes held by the one
 * mailbox or room log, and by all mailboxes and room logs together. An append that would pass
 * either is refused and stores nothing. Between processes on one database the overall quota
 * may be overshot by the appends in flight at once.
 */
export interface ByteQuota {
  maxBytes: number;
  maxTotalBytes: number;
}

/** Rows removed by one retention sweep. */
export interface SweepResult {
  mailboxEnvelopes: number;
  roomEvents: number;
  challenges: number;
  tokens: number;
}

/** Thrown by {@link RelayStore.storePreKeys} when a kind would exceed its stored cap. */
export class PreKeyCapacityError extends Error {
  constructor() {
    super("prekey capacity exceeded");
    this.name = "PreKeyCapacityError";
  }
}

/**
 * Thrown by a store when its database cannot be reached (connection refused or lost, server
 * shutting down or restarting). The relay answers `unavailable`: the client may retry, and
 * nothing was acknowledged.
 */
export class StoreUnavailableError extends Error {
  constructor() {
    super("relay database unavailable");
    this.name = "StoreUnavailableError";
  }
}

/** The outcome of {@link RelayStore.takeRateToken}: allowed, or the wait before the next token. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** The relay's persistent state (spec/10-relay-api.md, "Storage"). */
export interface RelayStore {
  /**
   * Stores a challenge for an identity key until `expiresAtMs`. With `maxStored`, the
   * challenges expiring first are dropped so that at most that many remain (API-28).
   */
  putChallenge(challenge: Uint8Array, identityKey: Uint8Array, expiresAtMs: number, maxStored?: number): Promise<void>;
  /**
   * Deletes the challenge and reports whether it existed for this identity key and had not
   * expired at `nowMs`. Single use: a second call for the same challenge returns false.
   */
  consumeChallenge(challenge: Uint8Array, identityKey: Uint8Array, nowMs: number): Promise<boolean>;

  /** Creates the account or updates its registration id; reports whether it was created. */
  upsertAccount(account: AccountRecord): Promise<{ created: boolean }>;
  /** The account at `address`, if any. */
  getAccount(address: Uint8Array): Promise<AccountRecord | undefined>;
  /** Removes the account and everything held for it (prekeys, tokens, delivery token, mailbox). */
  deleteAccount(address: Uint8Array): Promise<void>;

  /** Stores a bearer token hash for an account. */
  putToken(tokenHash: Uint8Array, address: Uint8Array, expiresAtMs: number): Promise<void>;
  /** The account address and token expiry for an unexpired token hash. */
  findToken(tokenHash: Uint8Array, nowMs: number): Promise<{ address: Uint8Array; expiresAtMs: number } | undefined>;

  /** Sets the account's delivery-token hash, replacing any earlier one. */
  setDeliveryTokenHash(address: Uint8Array, hash: Uint8Array): Promise<void>;
  /** The account's delivery-token hash, if the account exists and has one. */
  getDeliveryTokenHash(address: Uint8Array): Promise<Uint8Array | undefined>;

  /**
   * Stores an upload all-or-nothing. Keys with an id already stored for the same kind are
   * replaced. Throws {@link PreKeyCapacityError} (storing nothing) if a one-time kind would
   * exceed `maxPerKind`.
   */
  storePreKeys(address: Uint8Array, upload: PreKeyUpload, maxPerKind: number): Promise<PreKeyCountsRecord>;
  /** Current prekey counts. */
  getPreKeyCounts(address: Uint8Array): Promise<PreKeyCountsRecord>;
  /**
   * Takes a bundle atomically: one one-time EC prekey and one one-time Kyber prekey (or the
   * last-resort Kyber prekey when none remain) are removed and returned. Each one-time key is
   * returned by at most one call, even under concurrency. Undefined when the account does not
   * exist or has no signed prekey or no Kyber prekey at all. With `oneTime` false (the
   * target's handout budget is spent, API-29) no one-time EC prekey is taken and the
   * last-resort Kyber prekey is returned; a one-time Kyber prekey only if there is no last-resort one.
   */
  takePreKeyBundle(address: Uint8Array, oneTime?: boolean): Promise<BundleRecord | undefined>;

  /**
   * Appends an envelope to a mailbox unless it holds `maxEnvelopes` already, the account
   * does not exist, or the append would pass a byte quota. Durable when resolved.
   */
  enqueueMailbox(address: Uint8Array, envelope: Uint8Array, nowMs: number, maxEnvelopes: number, quota?: ByteQuota): Promise<EnqueueResult>;
  /** Up to `limit` envelopes with id greater than `afterId`, oldest first. */
  readMailbox(address: Uint8Array, afterId: number, limit: number): Promise<MailboxRecord[]>;
  /** Deletes the listed envelopes of this mailbox; unknown ids are ignored. Returns how many were deleted. */
  ackMailbox(address: Uint8Array, ids: readonly number[]): Promise<number>;

  /** Creates a room; false if the id is taken. */
  createRoom(roomId: Uint8Array, accessKeyHash: Uint8Array, nowMs: number): Promise<boolean>;
  /** The room, if it exists. */
  getRoom(roomId: Uint8Array): Promise<RoomRecord | undefined>;
  /**
   * Appends an envelope with the next sequence number (1, 2, …) and drops the oldest events
   * beyond `maxEvents`, unless the append would pass a byte quota (nothing is stored and no
   * sequence number used). Durable when resolved.
   */
  appendRoomEvent(roomId: Uint8Array, envelope: Uint8Array, nowMs: number, maxEvents: number, quota?: ByteQuota): Promise<AppendResult>;

  /** Envelope bytes stored in all mailboxes and room logs together (API-31). */
  storedBytes(): Promise<number>;
  /** Up to `limit` stored events with seq greater than `afterSeq`, in order. */
  readRoomEvents(roomId: Uint8Array, afterSeq: number, limit: number): Promise<RoomEventRecord[]>;
  /** Replaces the room's access-key hash, keeping the old one as previous; false if the room does not exist. */
  setRoomAccessKeyHash(roomId: Uint8Array, hash: Uint8Array): Promise<boolean>;

  /**
   * Stores the room's invite box under `addressHash`, replacing any earlier box of the room
   * (API-40: one box per room, so a reset link's box is gone). False if the room does not exist.
   */
  putInviteBox(roomId: Uint8Array, addressHash: Uint8Array, box: Uint8Array, nowMs: number): Promise<boolean>;
  /** The room's invite box with its address hash, if the room has one. */
  getInviteBox(roomId: Uint8Array): Promise<InviteBoxRecord | undefined>;

  /**
   * Deletes mailbox envelopes stored before `nowMs - mailboxRetentionMs`, room events posted
   * before `nowMs - roomRetentionMs`, and expired challenges and tokens. Room rows (id,
   * access-key hash, latest seq) are kept: deleting one would let its id be re-created with
   * sequence numbers restarting at 1 behind members' resume cursors.
   */
  sweep(nowMs: number, mailboxRetentionMs: number, roomRetentionMs: number): Promise<SweepResult>;

  /**
   * Takes one token from the bucket `bucket`/`key` (a token bucket refilling `perWindow` per
   * `windowMs`, a minute by default, holding at most `perWindow`) at `nowMs`. Shared by every
   * relay process on the same database; `key` is an opaque string derived from ids and never
   * logged.
   */
  takeRateToken(bucket: string, key: string, perWindow: number, nowMs: number, windowMs?: number): Promise<RateDecision>;

  /** The relay's serialized trust material (trust root and server key), if stored. */
  loadTrustMaterial(): Promise<Uint8Array | undefined>;
  /**
   * Stores `candidate` as the trust material unless some is stored already; returns what is
   * stored afterwards. Every process on one database thus ends with the same trust root.
   */
  claimTrustMaterial(candidate: Uint8Array): Promise<Uint8Array>;

  /** Finishes pending writes, checkpoints and closes. Further calls reject. */
  close(): Promise<void>;
}
