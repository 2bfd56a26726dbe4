/**
 * The SQLite implementation of {@link RelayStore} on better-sqlite3.
 *
 * Owns: the database file `<dataDir>/relay.sqlite3` (WAL, `secure_delete` with a truncating
 * checkpoint soon after every deletion so deleted rows leave no bytes in the files, SC-19;
 * `synchronous = FULL` so that a
 * resolved write survives power loss or SIGKILL, foreign keys, busy timeout), prepared
 * statements, the transactions that make prekey handout atomic, and group commit: mailbox and
 * room appends that arrive in the same event-loop turn are committed in one transaction, and
 * each caller's promise resolves only after that commit (so the durability promise holds).
 * One process owns the file, so its rate-limit buckets live in that process's memory and its
 * trust material in `<dataDir>/trust-root.json` (relay/store/trust-file.ts), where earlier
 * releases kept it.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createRateLimiter, type RateLimiter } from "../rate-limit.js";
import { migrate } from "./migrations.js";
import { claimTrustFile, readTrustFile } from "./trust-file.js";
import {
  PreKeyCapacityError,
  type AccountRecord,
  type AppendResult,
  type BundleRecord,
  type EnqueueResult,
  type MailboxRecord,
  type PreKeyCountsRecord,
  type PreKeyUpload,
  type RelayStore,
  type RoomEventRecord,
  type RoomRecord,
  type SweepResult,
} from "./relay-store.js";

/** File name of the relay database inside the data directory. */
export const DATABASE_FILE = "relay.sqlite3";

/** How long a writer waits for a lock held by another connection before failing. */
const BUSY_TIMEOUT_MS = 5_000;

/** Rows deleted per sweep step: a few milliseconds of work between event-loop turns. */
const SWEEP_CHUNK = 2_000;

/**
 * How long deleted rows may remain in older WAL frames: a deletion schedules a truncating
 * checkpoint this soon (at most one per interval under steady traffic), which copies the
 * zeroed pages into the database and empties the WAL file (SC-19).
 */
export const SECURE_DELETE_CHECKPOINT_MS = 1_000;

/** Most writes grouped into one commit: bounds the latency any one writer waits for. */
const MAX_BATCH = 512;

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Directory holding the database; created (mode 0700) if missing. */
  dataDir: string;
  /** Called after each group commit with its size and duration in seconds. */
  onCommit?: (writes: number, seconds: number) => void;
}

type Row = Record<string, unknown>;

const bytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new TypeError("expected a BLOB column");
  return new Uint8Array(v);
};
const int = (v: unknown): number => {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw new TypeError("expected an INTEGER column");
};

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Opens (creating and migrating if needed) the relay database in `dataDir`. */
export function openSqliteStore(options: SqliteStoreOptions): RelayStore & { readonly path: string; readonly db: Database.Database } {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const path = join(options.dataDir, DATABASE_FILE);
  const db = new Database(path);
  chmodSync(path, 0o600);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  // Deleted rows are overwritten with zeros in their pages (issue 11; spec/11 SC-19); the WAL
  // frames that still hold them are removed by the checkpoint scheduled after each deletion.
  db.pragma("secure_delete = ON");
  db.pragma("foreign_keys = ON");
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  migrate(db);

  const s = {
    putChallenge: db.prepare("INSERT OR REPLACE INTO challenges (challenge, identity_key, expires_at_ms) VALUES (?, ?, ?)"),
    takeChallenge: db.prepare("DELETE FROM challenges WHERE challenge = ? RETURNING identity_key, expires_at_ms"),
    getAccount: db.prepare("SELECT address, identity_key, registration_id, created_at_ms FROM accounts WHERE address = ?"),
    insertAccount: db.prepare("INSERT INTO accounts (address, identity_key, registration_id, created_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (address) DO NOTHING"),
    updateRegistration: db.prepare("UPDATE accounts SET registration_id = ? WHERE address = ?"),
    deleteAccount: db.prepare("DELETE FROM accounts WHERE address = ?"),
    putToken: db.prepare("INSERT INTO tokens (token_hash, address, expires_at_ms) VALUES (?, ?, ?)"),
    findToken: db.prepare("SELECT address, expires_at_ms FROM tokens WHERE token_hash = ? AND expires_at_ms > ?"),
    setDelivery: db.prepare("UPDATE accounts SET delivery_token_hash = ? WHERE address = ?"),
    getDelivery: db.prepare("SELECT delivery_token_hash FROM accounts WHERE address = ?"),
    putSigned: db.prepare("INSERT OR REPLACE INTO signed_prekeys (address, id, public_key, signature) VALUES (?, ?, ?, ?)"),
    putLastResort: db.prepare("INSERT OR REPLACE INTO last_resort_kyber_prekeys (address, id, public_key, signature) VALUES (?, ?, ?, ?)"),
    putOneTime: db.prepare("INSERT OR REPLACE INTO one_time_prekeys (address, id, public_key) VALUES (?, ?, ?)"),
    putKyber: db.prepare("INSERT OR REPLACE INTO kyber_prekeys (address, id, public_key, signature) VALUES (?, ?, ?, ?)"),
    countOneTime: db.prepare("SELECT count(*) AS n FROM one_time_prekeys WHERE address = ?"),
    countKyber: db.prepare("SELECT count(*) AS n FROM kyber_prekeys WHERE address = ?"),
    getSigned: db.prepare("SELECT id, public_key, signature FROM signed_prekeys WHERE address = ?"),
    getLastResort: db.prepare("SELECT id, public_key, signature FROM last_resort_kyber_prekeys WHERE address = ?"),
    takeOneTime: db.prepare("DELETE FROM one_time_prekeys WHERE address = ? AND id = (SELECT id FROM one_time_prekeys WHERE address = ? ORDER BY id LIMIT 1) RETURNING id, public_key"),
    takeKyber: db.prepare("DELETE FROM kyber_prekeys WHERE row = (SELECT row FROM kyber_prekeys WHERE address = ? ORDER BY row LIMIT 1) RETURNING id, public_key, signature"),
    countMailbox: db.prepare("SELECT count(*) AS n FROM mailbox WHERE address = ?"),
    accountExists: db.prepare("SELECT 1 AS x FROM accounts WHERE address = ?"),
    mailboxBytes: db.prepare("SELECT mailbox_bytes FROM accounts WHERE address = ?"),
    roomBytes: db.prepare("SELECT log_bytes FROM rooms WHERE room_id = ?"),
    usage: db.prepare("SELECT stored_bytes, challenges FROM storage_usage"),
    dropOldestChallenges: db.prepare("DELETE FROM challenges WHERE challenge IN (SELECT challenge FROM challenges ORDER BY expires_at_ms LIMIT ?)"),
    enqueue: db.prepare("INSERT INTO mailbox (address, stored_at_ms, envelope) VALUES (?, ?, ?)"),
    readMailbox: db.prepare("SELECT id, stored_at_ms, envelope FROM mailbox WHERE address = ? AND id > ? ORDER BY id LIMIT ?"),
    ack: db.prepare("DELETE FROM mailbox WHERE address = ? AND id = ?"),
    createRoom: db.prepare("INSERT INTO rooms (room_id, access_key_hash, created_at_ms) VALUES (?, ?, ?) ON CONFLICT (room_id) DO NOTHING"),
    getRoom: db.prepare("SELECT room_id, access_key_hash, previous_access_key_hash, created_at_ms, latest_seq FROM rooms WHERE room_id = ?"),
    oldestSeq: db.prepare("SELECT min(seq) AS s FROM room_events WHERE room_id = ?"),
    bumpSeq: db.prepare("UPDATE rooms SET latest_seq = latest_seq + 1 WHERE room_id = ? RETURNING latest_seq"),
    appendEvent: db.prepare("INSERT INTO room_events (room_id, seq, posted_at_ms, envelope) VALUES (?, ?, ?, ?)"),
    dropOldEvents: db.prepare("DELETE FROM room_events WHERE room_id = ? AND seq <= ?"),
    readEvents: db.prepare("SELECT seq, posted_at_ms, envelope FROM room_events WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?"),
    putInviteBox: db.prepare(
      "INSERT INTO invite_boxes (room_id, address_hash, box, updated_at_ms) SELECT room_id, ?, ?, ? FROM rooms WHERE room_id = ? " +
        "ON CONFLICT (room_id) DO UPDATE SET address_hash = excluded.address_hash, box = excluded.box, updated_at_ms = excluded.updated_at_ms",
    ),
    getInviteBox: db.prepare("SELECT address_hash, box FROM invite_boxes WHERE room_id = ?"),
    setRoomKey: db.prepare("UPDATE rooms SET previous_access_key_hash = access_key_hash, access_key_hash = ? WHERE room_id = ?"),
    sweepMailbox: db.prepare(`DELETE FROM mailbox WHERE id IN (SELECT id FROM mailbox WHERE stored_at_ms < ? LIMIT ${SWEEP_CHUNK})`),
    sweepEvents: db.prepare(`DELETE FROM room_events WHERE row IN (SELECT row FROM room_events WHERE posted_at_ms < ? LIMIT ${SWEEP_CHUNK})`),
    sweepChallenges: db.prepare(`DELETE FROM challenges WHERE challenge IN (SELECT challenge FROM challenges WHERE expires_at_ms <= ? LIMIT ${SWEEP_CHUNK})`),
    sweepTokens: db.prepare(`DELETE FROM tokens WHERE token_hash IN (SELECT token_hash FROM tokens WHERE expires_at_ms <= ? LIMIT ${SWEEP_CHUNK})`),
  };

  let closed = false;
  // SC-19: after a deletion, checkpoint and truncate the WAL soon (its frames still hold the
  // rows as they were before).
  let checkpointTimer: NodeJS.Timeout | undefined;
  const checkpointNow = (): void => {
    checkpointTimer = undefined;
    if (closed) return;
    const [result] = db.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
    if (result && result.busy !== 0) deleted(); // a reader held the WAL: try again
  };
  const deleted = (): void => {
    if (checkpointTimer || closed) return;
    checkpointTimer = setTimeout(checkpointNow, SECURE_DELETE_CHECKPOINT_MS);
    checkpointTimer.unref();
  };
  const ensureOpen = (): void => {
    if (closed) throw new Error("relay store is closed");
  };

  // Group commit: writes submitted in one event-loop turn share one durable transaction.
  let pending: PendingWrite[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    while (pending.length > 0) {
      const batch = pending.splice(0, MAX_BATCH);
      const started = performance.now();
      let outcomes: { ok: boolean; value: unknown }[];
      try {
        outcomes = db.transaction(() =>
          batch.map((w) => {
            try {
              // A nested transaction is a savepoint: a failing write rolls back alone.
              return { ok: true, value: db.transaction(w.run)() };
            } catch (err) {
              return { ok: false, value: err };
            }
          }),
        ).immediate();
      } catch (err) {
        for (const w of batch) w.reject(err);
        continue;
      }
      options.onCommit?.(batch.length, (performance.now() - started) / 1000);
      batch.forEach((w, i) => {
        const o = outcomes[i];
        if (o?.ok) w.resolve(o.value);
        else w.reject(o?.value);
      });
    }
  };
  const submit = <T>(run: () => T): Promise<T> => {
    ensureOpen();
    return new Promise<T>((resolve, reject) => {
      pending.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
  /** Runs `fn` now (synchronously) as a promise, so the interface stays async. */
  const now = <T>(fn: () => T): Promise<T> => {
    try {
      ensureOpen();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  };

  // One process owns a SQLite file: its buckets are this process's (relay/rate-limit.ts).
  const limiters = new Map<string, RateLimiter>();
  const limiter = (bucket: string, perWindow: number, windowMs: number): RateLimiter => {
    const id = `${bucket}/${perWindow}/${windowMs}`;
    let l = limiters.get(id);
    if (!l) {
      l = createRateLimiter(perWindow, undefined, windowMs);
      limiters.set(id, l);
    }
    return l;
  };

  const counts = (address: Uint8Array): PreKeyCountsRecord => {
    const signed = s.getSigned.get(address) as Row | undefined;
    return {
      oneTimePreKeys: int((s.countOneTime.get(address) as Row).n),
      kyberPreKeys: int((s.countKyber.get(address) as Row).n),
      signedPreKeyId: signed ? int(signed.id) : undefined,
      hasLastResortKyberPreKey: s.getLastResort.get(address) !== undefined,
    };
  };

  const storePreKeysTx = db.transaction((address: Uint8Array, upload: PreKeyUpload, maxPerKind: number): PreKeyCountsRecord => {
    if (upload.signedPreKey) {
      const k = upload.signedPreKey;
      s.putSigned.run(address, k.id, k.publicKey, k.signature);
    }
    if (upload.lastResortKyberPreKey) {
      const k = upload.lastResortKyberPreKey;
      s.putLastResort.run(address, k.id, k.publicKey, k.signature);
    }
    for (const k of upload.oneTimePreKeys) s.putOneTime.run(address, k.id, k.publicKey);
    for (const k of upload.kyberPreKeys) s.putKyber.run(address, k.id, k.publicKey, k.signature);
    const after = counts(address);
    // Throwing rolls the whole upload back: all-or-nothing.
    if (after.oneTimePreKeys > maxPerKind || after.kyberPreKeys > maxPerKind) throw new PreKeyCapacityError();
    return after;
  });

  const takeBundleTx = db.transaction((address: Uint8Array, takeOneTime: boolean): BundleRecord | undefined => {
    const account = s.getAccount.get(address) as Row | undefined;
    if (!account) return undefined;
    const signed = s.getSigned.get(address) as Row | undefined;
    if (!signed) return undefined;
    const lastResort = s.getLastResort.get(address) as Row | undefined;
    const kyber = takeOneTime || !lastResort ? (s.takeKyber.get(address) as Row | undefined) : undefined;
    if (!kyber && !lastResort) return undefined;
    const oneTime = takeOneTime ? (s.takeOneTime.get(address, address) as Row | undefined) : undefined;
    const kyberRow = (kyber ?? lastResort) as Row;
    return {
      identityKey: bytes(account.identity_key),
      registrationId: int(account.registration_id),
      signedPreKey: { id: int(signed.id), publicKey: bytes(signed.public_key), signature: bytes(signed.signature) },
      oneTimePreKey: oneTime ? { id: int(oneTime.id), publicKey: bytes(oneTime.public_key) } : undefined,
      kyberPreKey: { id: int(kyberRow.id), publicKey: bytes(kyberRow.public_key), signature: bytes(kyberRow.signature) },
      kyberPreKeyIsLastResort: !kyber,
    };
  });

  const ackTx = db.transaction((address: Uint8Array, ids: readonly number[]): number => {
    let n = 0;
    for (const id of ids) n += s.ack.run(address, id).changes;
    return n;
  });

  const roomRecord = (row: Row): RoomRecord => {
    const latestSeq = int(row.latest_seq);
    const oldest = (s.oldestSeq.get(row.room_id) as Row).s;
    return {
      roomId: bytes(row.room_id),
      accessKeyHash: bytes(row.access_key_hash),
      previousAccessKeyHash: row.previous_access_key_hash == null ? undefined : bytes(row.previous_access_key_hash),
      createdAtMs: int(row.created_at_ms),
      latestSeq,
      oldestRetainedSeq: oldest === null || oldest === undefined ? latestSeq + 1 : int(oldest),
    };
  };

  const store: RelayStore & { readonly path: string; readonly db: Database.Database } = {
    path,
    db,
    putChallenge: (challenge, identityKey, expiresAtMs, maxStored) =>
      now(() =>
        db.transaction(() => {
          s.putChallenge.run(challenge, identityKey, expiresAtMs);
          if (maxStored === undefined) return;
          // The count is kept by triggers (migration 2): O(1) per call under a flood.
          const over = int((s.usage.get() as Row).challenges) - maxStored;
          if (over > 0 && s.dropOldestChallenges.run(over).changes > 0) deleted();
        }).immediate(),
      ),
    consumeChallenge: (challenge, identityKey, nowMs) =>
      now(() => {
        const row = s.takeChallenge.get(challenge) as Row | undefined;
        if (!row) return false;
        deleted();
        return int(row.expires_at_ms) > nowMs && Buffer.compare(bytes(row.identity_key), identityKey) === 0;
      }),
    upsertAccount: (a) =>
      now(() =>
        db.transaction(() => {
          const created = s.insertAccount.run(a.address, a.identityKey, a.registrationId, a.createdAtMs).changes === 1;
          if (!created) s.updateRegistration.run(a.registrationId, a.address);
          return { created };
        }).immediate(),
      ),
    getAccount: (address) =>
      now(() => {
        const row = s.getAccount.get(address) as Row | undefined;
        if (!row) return undefined;
        const account: AccountRecord = {
          address: bytes(row.address),
          identityKey: bytes(row.identity_key),
          registrationId: int(row.registration_id),
          createdAtMs: int(row.created_at_ms),
        };
        return account;
      }),
    // ON DELETE CASCADE removes tokens, prekeys and the mailbox with the account row.
    deleteAccount: (address) =>
      now(() => {
        if (s.deleteAccount.run(address).changes > 0) deleted();
      }),
    putToken: (tokenHash, address, expiresAtMs) => now(() => void s.putToken.run(tokenHash, address, expiresAtMs)),
    findToken: (tokenHash, nowMs) =>
      now(() => {
        const row = s.findToken.get(tokenHash, nowMs) as Row | undefined;
        return row ? { address: bytes(row.address), expiresAtMs: int(row.expires_at_ms) } : undefined;
      }),
    setDeliveryTokenHash: (address, hash) => now(() => void s.setDelivery.run(hash, address)),
    getDeliveryTokenHash: (address) =>
      now(() => {
        const row = s.getDelivery.get(address) as Row | undefined;
        return row && row.delivery_token_hash != null ? bytes(row.delivery_token_hash) : undefined;
      }),
    storePreKeys: (address, upload, maxPerKind) => now(() => storePreKeysTx.immediate(address, upload, maxPerKind)),
    getPreKeyCounts: (address) => now(() => counts(address)),
    takePreKeyBundle: (address, oneTime = true) => now(() => takeBundleTx.immediate(address, oneTime)),
    enqueueMailbox: (address, envelope, nowMs, maxEnvelopes, quota) =>
      submit((): EnqueueResult => {
        const account = s.mailboxBytes.get(address) as Row | undefined;
        if (!account) return { ok: false, reason: "no_recipient" };
        if (int((s.countMailbox.get(address) as Row).n) >= maxEnvelopes) return { ok: false, reason: "full" };
        if (quota) {
          if (int(account.mailbox_bytes) + envelope.length > quota.maxBytes) return { ok: false, reason: "full" };
          if (int((s.usage.get() as Row).stored_bytes) + envelope.length > quota.maxTotalBytes) return { ok: false, reason: "storage_full" };
        }
        const id = int(s.enqueue.run(address, nowMs, envelope).lastInsertRowid);
        return { ok: true, id, storedAtMs: nowMs };
      }),
    readMailbox: (address, afterId, limit) =>
      now(() =>
        (s.readMailbox.all(address, afterId, limit) as Row[]).map(
          (r): MailboxRecord => ({ id: int(r.id), storedAtMs: int(r.stored_at_ms), envelope: bytes(r.envelope) }),
        ),
      ),
    ackMailbox: (address, ids) =>
      now(() => {
        const n = ackTx.immediate(address, ids);
        if (n > 0) deleted();
        return n;
      }),
    createRoom: (roomId, accessKeyHash, nowMs) => now(() => s.createRoom.run(roomId, accessKeyHash, nowMs).changes === 1),
    getRoom: (roomId) =>
      now(() => {
        const row = s.getRoom.get(roomId) as Row | undefined;
        return row ? roomRecord(row) : undefined;
      }),
    appendRoomEvent: (roomId, envelope, nowMs, maxEvents, quota) =>
      submit((): AppendResult => {
        if (quota) {
          const room = s.roomBytes.get(roomId) as Row | undefined;
          if (!room) return { ok: false, reason: "not_found" };
          if (int(room.log_bytes) + envelope.length > quota.maxBytes) return { ok: false, reason: "room_full" };
          if (int((s.usage.get() as Row).stored_bytes) + envelope.length > quota.maxTotalBytes) return { ok: false, reason: "storage_full" };
        }
        const bumped = s.bumpSeq.get(roomId) as Row | undefined;
        if (!bumped) return { ok: false, reason: "not_found" };
        const seq = int(bumped.latest_seq);
        s.appendEvent.run(roomId, seq, nowMs, envelope);
        if (seq > maxEvents && s.dropOldEvents.run(roomId, seq - maxEvents).changes > 0) deleted();
        return { ok: true, seq, postedAtMs: nowMs };
      }),
    storedBytes: () => now(() => int((s.usage.get() as Row).stored_bytes)),
    readRoomEvents: (roomId, afterSeq, limit) =>
      now(() =>
        (s.readEvents.all(roomId, afterSeq, limit) as Row[]).map(
          (r): RoomEventRecord => ({ seq: int(r.seq), postedAtMs: int(r.posted_at_ms), envelope: bytes(r.envelope) }),
        ),
      ),
    setRoomAccessKeyHash: (roomId, hash) => now(() => s.setRoomKey.run(hash, roomId).changes === 1),
    putInviteBox: (roomId, addressHash, box, nowMs) => submit(() => s.putInviteBox.run(addressHash, box, nowMs, roomId).changes === 1),
    getInviteBox: (roomId) =>
      now(() => {
        const row = s.getInviteBox.get(roomId) as Row | undefined;
        return row ? { addressHash: new Uint8Array(row.address_hash as Buffer), box: new Uint8Array(row.box as Buffer) } : undefined;
      }),
    sweep: async (nowMs, mailboxRetentionMs, roomRetentionMs) => {
      ensureOpen();
      const result: SweepResult = { mailboxEnvelopes: 0, roomEvents: 0, challenges: 0, tokens: 0 };
      const jobs: [keyof SweepResult, Database.Statement, number][] = [
        ["mailboxEnvelopes", s.sweepMailbox, nowMs - mailboxRetentionMs],
        ["roomEvents", s.sweepEvents, nowMs - roomRetentionMs],
        ["challenges", s.sweepChallenges, nowMs],
        ["tokens", s.sweepTokens, nowMs],
      ];
      // In chunks, each its own short transaction, yielding between them: a large sweep never
      // blocks the event loop (and every stream) for long.
      for (const [kind, stmt, cutoff] of jobs) {
        for (;;) {
          if (closed) return result;
          const n = stmt.run(cutoff).changes;
          result[kind] += n;
          if (n > 0) deleted();
          if (n < SWEEP_CHUNK) break;
          await new Promise((r) => setImmediate(r));
        }
      }
      return result;
    },
    takeRateToken: (bucket, key, perWindow, nowMs, windowMs = 60_000) => now(() => limiter(bucket, perWindow, windowMs).take(key, nowMs)),
    loadTrustMaterial: () => now(() => readTrustFile(options.dataDir)),
    claimTrustMaterial: (candidate) => now(() => claimTrustFile(options.dataDir, candidate)),
    close: async () => {
      if (closed) return;
      if (checkpointTimer) clearTimeout(checkpointTimer);
      flush();
      closed = true;
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
    },
  };
  return store;
}


