/**
 * The PostgreSQL implementation of {@link RelayStore} on the `postgres` client, for any number
 * of relay processes sharing one database (DESIGN §5, "Storage").
 *
 * Owns: the connection pool, the statements, the transactions and row locks that make the
 * store's promises hold across processes, and the wake-up hints (NOTIFY on {@link HINT_CHANNEL},
 * sent inside the committing transaction, so a hint is delivered only after its commit):
 * - room sequence numbers come from `UPDATE rooms SET latest_seq = latest_seq + 1`, whose row
 *   lock orders appends to one room: gapless, never reused, committed in sequence order;
 * - a mailbox append locks its account row before drawing its id, so one mailbox's ids commit
 *   in increasing order (its cap check is exact for the same reason);
 * - a bundle takes each one-time key with `FOR UPDATE SKIP LOCKED` and deletes it in the same
 *   transaction: handed out at most once across all processes;
 * - every write resolves after COMMIT returned with `synchronous_commit` on: durable;
 * - retention sweeps run in one process at a time (a session advisory lock);
 * - a lost or refused connection becomes {@link StoreUnavailableError} (`unavailable`).
 * Does not own the listening side of the hints (relay/hub/postgres-feed.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import postgres, { type PendingQuery, type Sql } from "postgres";
import { migratePostgres } from "./postgres-migrations.js";
import { transaction } from "./postgres-transaction.js";
import {
  PreKeyCapacityError,
  StoreUnavailableError,
  type AccountRecord,
  type BundleRecord,
  type EnqueueResult,
  type PreKeyCountsRecord,
  type RelayStore,
  type RoomRecord,
  type SweepResult,
} from "./relay-store.js";

/** The NOTIFY channel carrying wake-up hints between relay processes. */
export const HINT_CHANNEL = "securecomm_relay";

/** Connections per relay process: enough for concurrent transactions, modest for the server. */
export const POOL_SIZE = 10;

/** Rows deleted per sweep statement: keeps each sweep transaction short. */
const SWEEP_CHUNK = 2_000;

/** Advisory lock key held by the one process sweeping ("SCswp"). */
const SWEEP_LOCK_KEY = 0x5343737770;

/**
 * How often takeRateToken prunes idle buckets. A bucket is pruned once idle for its own window
 * (`window_ms`: a minute, or an hour for API-29), when it is full again.
 */
const RATE_BUCKET_IDLE_MS = 60_000;

/** Ephemeral events wait this long for other processes to fetch them, then are swept. */
export const EPHEMERAL_RETENTION_MS = 60_000;

/** Backoff between reconnection attempts: short, so relays recover soon after the database. */
const reconnectBackoffSeconds = (retries: number): number => Math.min(0.05 * 2 ** retries, 1);

/** Connection-level failures (client codes and server SQLSTATEs) that mean "database unreachable". */
const UNAVAILABLE_CLIENT_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOENT",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "58030"]);

/** Whether `err` is the database being unreachable rather than a fault of the request. */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  if (UNAVAILABLE_CLIENT_CODES.has(code)) return true;
  return err instanceof postgres.PostgresError && (code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(code));
}

/** Options of {@link openPostgresStore}. */
export interface PostgresStoreOptions {
  /** Connection URL, `postgres://user@host:port/db` (a Unix socket via `?host=/dir`). */
  url: string;
  /** Called after each committed append with its size (1) and duration in seconds. */
  onCommit?: (writes: number, seconds: number) => void;
}

/** A stored-event hint as carried by NOTIFY. */
export type Hint =
  | { kind: "mailbox"; origin: string; key: string; id: number }
  | { kind: "room"; origin: string; key: string; seq: number }
  | { kind: "ephemeral"; origin: string; key: string; id: number }
  | { kind: "rotated"; origin: string; key: string }
  | { kind: "deleted"; origin: string; key: string }
  | { kind: "prekeysLow"; origin: string; key: string; handoutLimited: boolean };

const HINT_LETTER = { mailbox: "m", room: "r", ephemeral: "e", rotated: "k", deleted: "d", prekeysLow: "p" } as const;

/** Parses a NOTIFY payload `<letter><origin>:<hex key>[:<n>]`; undefined when malformed. */
export function parseHint(payload: string): Hint | undefined {
  const m = /^([mrekdp])([0-9a-f]{16}):([0-9a-f]{2,128})(?::(\d{1,16}))?$/.exec(payload);
  if (!m) return undefined;
  const [, letter, origin = "", key = ""] = m;
  const n = m[4] === undefined ? undefined : Number(m[4]);
  switch (letter) {
    case "m":
      return n === undefined ? undefined : { kind: "mailbox", origin, key, id: n };
    case "r":
      return n === undefined ? undefined : { kind: "room", origin, key, seq: n };
    case "e":
      return n === undefined ? undefined : { kind: "ephemeral", origin, key, id: n };
    case "k":
      return { kind: "rotated", origin, key };
    case "d":
      return { kind: "deleted", origin, key };
    case "p":
      return n === 0 || n === 1 ? { kind: "prekeysLow", origin, key, handoutLimited: n === 1 } : undefined;
    default:
      return undefined;
  }
}

/** The PostgreSQL store, with what the PostgreSQL feed needs besides {@link RelayStore}. */
export interface PostgresStore extends RelayStore {
  /** This process's random origin tag in hints (never an identifier of anyone). */
  readonly origin: string;
  /** The connection URL, for the feed's listening connection. */
  readonly url: string;
  /** Puts an ephemeral event in transit for other processes and hints it; returns its id. */
  putEphemeral(roomId: Uint8Array, envelope: Uint8Array, nowMs: number): Promise<number>;
  /** Hints the account's streams on every process to refill their one-time prekeys (API-29). */
  notifyPreKeysLow(address: Uint8Array, handoutLimited: boolean): Promise<void>;
  /** An ephemeral event in transit, if not swept yet. */
  getEphemeral(id: number): Promise<{ roomId: Uint8Array; postedAtMs: number; envelope: Uint8Array } | undefined>;
  /** The raw client, for tests and the benchmark's own bookkeeping. */
  readonly sql: Sql;
}

type Row = Record<string, unknown>;

const bytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new TypeError("expected a bytea column");
  return new Uint8Array(v);
};
const int = (v: unknown): number => {
  if (typeof v === "number") return v;
  if (typeof v === "string" || typeof v === "bigint") return Number(v);
  throw new TypeError("expected an integer column");
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Opens the pool on `options.url` and brings the schema up to date. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const sql = postgres(options.url, {
    max: POOL_SIZE,
    onnotice: () => {},
    backoff: reconnectBackoffSeconds,
    connect_timeout: 10,
    // An acknowledged write is durable: commits wait for the WAL flush, whatever the server's default.
    connection: { application_name: "securecomm-relay", synchronous_commit: "on" },
  });
  const origin = randomBytes(8).toString("hex");
  let closed = false;
  let lastBucketPrune = 0;

  /** Runs `fn`, turning connection failures into StoreUnavailableError. */
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new Error("relay store is closed");
    try {
      return await fn();
    } catch (err) {
      if (closed && !(err instanceof PreKeyCapacityError)) throw new Error("relay store is closed");
      if (isUnavailable(err)) throw new StoreUnavailableError();
      throw err;
    }
  };
  const timed = async <T>(fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const out = await run(fn);
    options.onCommit?.(1, (performance.now() - started) / 1000);
    return out;
  };
  const hint = (kind: keyof typeof HINT_LETTER, key: Uint8Array): string => `${HINT_LETTER[kind]}${origin}:${hex(key)}`;

  try {
    await migratePostgres(sql);
  } catch (err) {
    await sql.end({ timeout: 1 });
    if (isUnavailable(err)) throw new StoreUnavailableError();
    throw err;
  }

  const countsIn = async (q: Sql, address: Uint8Array): Promise<PreKeyCountsRecord> => {
    const [row] = await q<Row[]>`
      SELECT (SELECT count(*) FROM one_time_prekeys WHERE address = ${address}) AS one_time,
             (SELECT count(*) FROM kyber_prekeys WHERE address = ${address}) AS kyber,
             (SELECT id FROM signed_prekeys WHERE address = ${address}) AS signed_id,
             EXISTS (SELECT 1 FROM last_resort_kyber_prekeys WHERE address = ${address}) AS last_resort`;
    return {
      oneTimePreKeys: int(row?.one_time),
      kyberPreKeys: int(row?.kyber),
      signedPreKeyId: row?.signed_id == null ? undefined : int(row.signed_id),
      hasLastResortKyberPreKey: row?.last_resort === true,
    };
  };

  const store: PostgresStore = {
    origin,
    url: options.url,
    sql,
    putChallenge: (challenge, identityKey, expiresAtMs, maxStored) =>
      run(async () => {
        await sql`INSERT INTO challenges (challenge, identity_key, expires_at_ms) VALUES (${challenge}, ${identityKey}, ${expiresAtMs})
                  ON CONFLICT (challenge) DO UPDATE SET identity_key = excluded.identity_key, expires_at_ms = excluded.expires_at_ms`;
        if (maxStored === undefined) return;
        // The count is kept by a trigger (migration 2); drop the challenges expiring first.
        const [usage] = await sql<Row[]>`SELECT sum(challenges) AS challenges FROM storage_usage`;
        const over = int(usage?.challenges ?? 0) - maxStored;
        if (over > 0) {
          await sql`DELETE FROM challenges WHERE challenge IN (SELECT challenge FROM challenges ORDER BY expires_at_ms LIMIT ${over})`;
        }
      }),
    consumeChallenge: (challenge, identityKey, nowMs) =>
      run(async () => {
        const [row] = await sql<Row[]>`DELETE FROM challenges WHERE challenge = ${challenge} RETURNING identity_key, expires_at_ms`;
        if (!row) return false;
        return int(row.expires_at_ms) > nowMs && Buffer.compare(bytes(row.identity_key), identityKey) === 0;
      }),
    upsertAccount: (a) =>
      run(async () => {
        // xmax = 0 only on a freshly inserted row version: tells "created" from "updated".
        const [row] = await sql<Row[]>`
          INSERT INTO accounts (address, identity_key, registration_id, created_at_ms)
          VALUES (${a.address}, ${a.identityKey}, ${a.registrationId}, ${a.createdAtMs})
          ON CONFLICT (address) DO UPDATE SET registration_id = excluded.registration_id
          RETURNING (xmax = 0) AS created`;
        return { created: row?.created === true };
      }),
    getAccount: (address) =>
      run(async () => {
        const [row] = await sql<Row[]>`SELECT address, identity_key, registration_id, created_at_ms FROM accounts WHERE address = ${address}`;
        if (!row) return undefined;
        const account: AccountRecord = {
          address: bytes(row.address),
          identityKey: bytes(row.identity_key),
          registrationId: int(row.registration_id),
          createdAtMs: int(row.created_at_ms),
        };
        return account;
      }),
    deleteAccount: (address) =>
      run(async () => {
        // ON DELETE CASCADE removes tokens, prekeys and the mailbox; the hint ends its streams everywhere.
        await sql`WITH d AS (DELETE FROM accounts WHERE address = ${address} RETURNING 1)
                  SELECT pg_notify(${HINT_CHANNEL}, ${hint("deleted", address)}) FROM d`;
      }),
    putToken: (tokenHash, address, expiresAtMs) =>
      run(async () => {
        await sql`INSERT INTO tokens (token_hash, address, expires_at_ms) VALUES (${tokenHash}, ${address}, ${expiresAtMs})`;
      }),
    findToken: (tokenHash, nowMs) =>
      run(async () => {
        const [row] = await sql<Row[]>`SELECT address, expires_at_ms FROM tokens WHERE token_hash = ${tokenHash} AND expires_at_ms > ${nowMs}`;
        return row ? { address: bytes(row.address), expiresAtMs: int(row.expires_at_ms) } : undefined;
      }),
    setDeliveryTokenHash: (address, hash) =>
      run(async () => {
        await sql`UPDATE accounts SET delivery_token_hash = ${hash} WHERE address = ${address}`;
      }),
    getDeliveryTokenHash: (address) =>
      run(async () => {
        const [row] = await sql<Row[]>`SELECT delivery_token_hash FROM accounts WHERE address = ${address}`;
        return row && row.delivery_token_hash != null ? bytes(row.delivery_token_hash) : undefined;
      }),
    storePreKeys: (address, upload, maxPerKind) =>
      run(() =>
        transaction(sql, async (tx) => {
          // Uploads for one account take turns: the cap check below sees every earlier upload.
          await tx`SELECT 1 FROM accounts WHERE address = ${address} FOR NO KEY UPDATE`;
          if (upload.signedPreKey) {
            const k = upload.signedPreKey;
            await tx`INSERT INTO signed_prekeys (address, id, public_key, signature) VALUES (${address}, ${k.id}, ${k.publicKey}, ${k.signature})
                     ON CONFLICT (address) DO UPDATE SET id = excluded.id, public_key = excluded.public_key, signature = excluded.signature`;
          }
          if (upload.lastResortKyberPreKey) {
            const k = upload.lastResortKyberPreKey;
            await tx`INSERT INTO last_resort_kyber_prekeys (address, id, public_key, signature) VALUES (${address}, ${k.id}, ${k.publicKey}, ${k.signature})
                     ON CONFLICT (address) DO UPDATE SET id = excluded.id, public_key = excluded.public_key, signature = excluded.signature`;
          }
          if (upload.oneTimePreKeys.length > 0) {
            const rows = upload.oneTimePreKeys.map((k) => ({ address, id: k.id, public_key: k.publicKey }));
            await tx`INSERT INTO one_time_prekeys ${tx(rows, "address", "id", "public_key")}
                     ON CONFLICT (address, id) DO UPDATE SET public_key = excluded.public_key`;
          }
          if (upload.kyberPreKeys.length > 0) {
            // A replaced id goes to the back of the handout order, as a fresh key would.
            const ids = upload.kyberPreKeys.map((k) => k.id);
            await tx`DELETE FROM kyber_prekeys WHERE address = ${address} AND id = ANY(${tx.array(ids)}::integer[])`;
            const rows = upload.kyberPreKeys.map((k) => ({ address, id: k.id, public_key: k.publicKey, signature: k.signature }));
            await tx`INSERT INTO kyber_prekeys ${tx(rows, "address", "id", "public_key", "signature")}`;
          }
          const after = await countsIn(tx, address);
          // Throwing rolls the whole upload back: all-or-nothing.
          if (after.oneTimePreKeys > maxPerKind || after.kyberPreKeys > maxPerKind) throw new PreKeyCapacityError();
          return after;
        }),
      ),
    getPreKeyCounts: (address) => run(() => countsIn(sql, address)),
    takePreKeyBundle: (address) =>
      run(() =>
        transaction(sql, async (tx): Promise<BundleRecord | undefined> => {
          const [head] = await tx<Row[]>`
            SELECT a.identity_key, a.registration_id,
                   s.id AS s_id, s.public_key AS s_pub, s.signature AS s_sig,
                   l.id AS l_id, l.public_key AS l_pub, l.signature AS l_sig
            FROM accounts a
            LEFT JOIN signed_prekeys s ON s.address = a.address
            LEFT JOIN last_resort_kyber_prekeys l ON l.address = a.address
            WHERE a.address = ${address}`;
          if (!head || head.s_id == null) return undefined;
          // SKIP LOCKED: a key another transaction is taking is passed over, never handed out twice.
          const [kyber] = await tx<Row[]>`
            DELETE FROM kyber_prekeys WHERE row_id = (
              SELECT row_id FROM kyber_prekeys WHERE address = ${address} ORDER BY row_id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, public_key, signature`;
          if (!kyber && head.l_id == null) return undefined;
          const [oneTime] = await tx<Row[]>`
            DELETE FROM one_time_prekeys WHERE address = ${address} AND id = (
              SELECT id FROM one_time_prekeys WHERE address = ${address} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, public_key`;
          return {
            identityKey: bytes(head.identity_key),
            registrationId: int(head.registration_id),
            signedPreKey: { id: int(head.s_id), publicKey: bytes(head.s_pub), signature: bytes(head.s_sig) },
            oneTimePreKey: oneTime ? { id: int(oneTime.id), publicKey: bytes(oneTime.public_key) } : undefined,
            kyberPreKey: kyber
              ? { id: int(kyber.id), publicKey: bytes(kyber.public_key), signature: bytes(kyber.signature) }
              : { id: int(head.l_id), publicKey: bytes(head.l_pub), signature: bytes(head.l_sig) },
            kyberPreKeyIsLastResort: !kyber,
          };
        }),
      ),
    enqueueMailbox: (address, envelope, nowMs, maxEnvelopes, quota) =>
      timed(() =>
        transaction(sql, async (tx): Promise<EnqueueResult> => {
          // The account row lock orders appends to one mailbox: ids commit in increasing order
          // (live delivery relies on it) and the count below is exact.
          const [account] = await tx<Row[]>`
            SELECT mailbox_bytes, (SELECT sum(stored_bytes) FROM storage_usage) AS total FROM accounts WHERE address = ${address} FOR NO KEY UPDATE OF accounts`;
          if (!account) return { ok: false, reason: "no_recipient" };
          if (quota) {
            // API-31: the mailbox's bytes are exact under the row lock; the overall total may be
            // overshot by appends committing at the same moment on other connections.
            if (int(account.mailbox_bytes) + envelope.length > quota.maxBytes) return { ok: false, reason: "full" };
            if (int(account.total) + envelope.length > quota.maxTotalBytes) return { ok: false, reason: "storage_full" };
          }
          const prefix = `${hint("mailbox", address)}:`;
          const [row] = await tx<Row[]>`
            WITH i AS (
              INSERT INTO mailbox (address, stored_at_ms, envelope)
              SELECT ${address}, ${nowMs}, ${envelope}
              WHERE (SELECT count(*) FROM mailbox WHERE address = ${address}) < ${maxEnvelopes}
              RETURNING id)
            SELECT id, pg_notify(${HINT_CHANNEL}, ${prefix} || id) FROM i`;
          if (!row) return { ok: false, reason: "full" };
          return { ok: true, id: int(row.id), storedAtMs: nowMs };
        }),
      ),
    readMailbox: (address, afterId, limit) =>
      run(async () => {
        const rows = await sql<Row[]>`SELECT id, stored_at_ms, envelope FROM mailbox WHERE address = ${address} AND id > ${afterId} ORDER BY id LIMIT ${limit}`;
        return rows.map((r) => ({ id: int(r.id), storedAtMs: int(r.stored_at_ms), envelope: bytes(r.envelope) }));
      }),
    ackMailbox: (address, ids) =>
      run(async () => {
        if (ids.length === 0) return 0;
        const result = await sql`DELETE FROM mailbox WHERE address = ${address} AND id = ANY(${sql.array(ids.map(String))}::bigint[])`;
        return result.count;
      }),
    createRoom: (roomId, accessKeyHash, nowMs) =>
      run(async () => {
        const result = await sql`INSERT INTO rooms (room_id, access_key_hash, created_at_ms) VALUES (${roomId}, ${accessKeyHash}, ${nowMs}) ON CONFLICT (room_id) DO NOTHING`;
        return result.count === 1;
      }),
    getRoom: (roomId) =>
      run(async () => {
        const [row] = await sql<Row[]>`
          SELECT room_id, access_key_hash, previous_access_key_hash, created_at_ms, latest_seq,
                 (SELECT min(seq) FROM room_events e WHERE e.room_id = r.room_id) AS oldest
          FROM rooms r WHERE room_id = ${roomId}`;
        if (!row) return undefined;
        const latestSeq = int(row.latest_seq);
        const room: RoomRecord = {
          roomId: bytes(row.room_id),
          accessKeyHash: bytes(row.access_key_hash),
          previousAccessKeyHash: row.previous_access_key_hash == null ? undefined : bytes(row.previous_access_key_hash),
          createdAtMs: int(row.created_at_ms),
          latestSeq,
          oldestRetainedSeq: row.oldest == null ? latestSeq + 1 : int(row.oldest),
        };
        return room;
      }),
    appendRoomEvent: (roomId, envelope, nowMs, maxEvents, quota) =>
      timed(async () => {
        // One statement, one transaction: the room row lock taken by the UPDATE orders appends,
        // so sequence numbers are gapless and commit in order; the hint leaves at commit. The
        // byte quotas (API-31) gate the UPDATE; concurrent appends may overshoot the overall
        // quota by their own size.
        const maxBytes = quota?.maxBytes ?? Number.MAX_SAFE_INTEGER;
        const maxTotal = quota?.maxTotalBytes ?? Number.MAX_SAFE_INTEGER;
        const prefix = `${hint("room", roomId)}:`;
        const [row] = await sql<Row[]>`
          WITH q AS (SELECT log_bytes, (SELECT sum(stored_bytes) FROM storage_usage) AS total FROM rooms WHERE room_id = ${roomId}),
               r AS (UPDATE rooms SET latest_seq = latest_seq + 1
                     WHERE room_id = ${roomId}
                       AND (SELECT log_bytes FROM q) + ${envelope.length} <= ${maxBytes}
                       AND (SELECT total FROM q) + ${envelope.length} <= ${maxTotal}
                     RETURNING latest_seq),
               i AS (INSERT INTO room_events (room_id, seq, posted_at_ms, envelope) SELECT ${roomId}, latest_seq, ${nowMs}, ${envelope} FROM r)
          SELECT q.log_bytes, q.total, r.latest_seq, pg_notify(${HINT_CHANNEL}, ${prefix} || r.latest_seq)
          FROM q LEFT JOIN r ON true`;
        if (row && row.latest_seq === null) {
          return { ok: false, reason: int(row.log_bytes) + envelope.length > maxBytes ? "room_full" : "storage_full" } as const;
        }
        // The cap, as its own statement after the commit: its fresh snapshot sees every append
        // committed before this one (a DELETE inside the statement above would not see appends
        // that committed while it waited for the room's row lock). Retention, not atomicity:
        // whatever one call misses, the next deletes.
        if (row && int(row.latest_seq) > maxEvents) {
          await sql`DELETE FROM room_events WHERE room_id = ${roomId} AND seq <= ${int(row.latest_seq) - maxEvents}`;
        }
        if (!row) return { ok: false, reason: "not_found" } as const;
        return { ok: true, seq: int(row.latest_seq), postedAtMs: nowMs } as const;
      }),
    storedBytes: () =>
      run(async () => {
        const [usage] = await sql<Row[]>`SELECT sum(stored_bytes) AS stored_bytes FROM storage_usage`;
        return int(usage?.stored_bytes ?? 0);
      }),
    readRoomEvents: (roomId, afterSeq, limit) =>
      run(async () => {
        const rows = await sql<Row[]>`SELECT seq, posted_at_ms, envelope FROM room_events WHERE room_id = ${roomId} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`;
        return rows.map((r) => ({ seq: int(r.seq), postedAtMs: int(r.posted_at_ms), envelope: bytes(r.envelope) }));
      }),
    setRoomAccessKeyHash: (roomId, hash) =>
      run(async () => {
        const rows = await sql`
          WITH u AS (UPDATE rooms SET previous_access_key_hash = access_key_hash, access_key_hash = ${hash} WHERE room_id = ${roomId} RETURNING 1)
          SELECT pg_notify(${HINT_CHANNEL}, ${hint("rotated", roomId)}) FROM u`;
        return rows.length === 1;
      }),
    sweep: (nowMs, mailboxRetentionMs, roomRetentionMs) =>
      run(async () => {
        const result: SweepResult = { mailboxEnvelopes: 0, roomEvents: 0, challenges: 0, tokens: 0 };
        // One process sweeps at a time: every statement first takes the sweep lock for its own
        // transaction, and a process that finds it taken skips the rest of this round. (Not a
        // reserved connection holding a session lock: after a lost connection the client would
        // write the unlock to a closed socket, which throws from a timer and kills the process.)
        const locked = async (del: PendingQuery<Row[]>): Promise<number | undefined> => {
          const [row] = await sql<Row[]>`
            WITH l AS (SELECT pg_try_advisory_xact_lock(${SWEEP_LOCK_KEY}) AS ok), d AS (${del} RETURNING 1)
            SELECT (SELECT ok FROM l) AS ok, (SELECT count(*) FROM d) AS n`;
          return row?.ok === true ? int(row.n) : undefined;
        };
                const jobs: [keyof SweepResult | undefined, () => Promise<number | undefined>][] = [
          ["mailboxEnvelopes", () => locked(sql`DELETE FROM mailbox WHERE (SELECT ok FROM l) AND id IN (SELECT id FROM mailbox WHERE stored_at_ms < ${nowMs - mailboxRetentionMs} LIMIT ${SWEEP_CHUNK})`)],
          ["roomEvents", () => locked(sql`DELETE FROM room_events WHERE (SELECT ok FROM l) AND ctid = ANY(ARRAY(SELECT ctid FROM room_events WHERE posted_at_ms < ${nowMs - roomRetentionMs} LIMIT ${SWEEP_CHUNK}))`)],
          ["challenges", () => locked(sql`DELETE FROM challenges WHERE (SELECT ok FROM l) AND challenge IN (SELECT challenge FROM challenges WHERE expires_at_ms <= ${nowMs} LIMIT ${SWEEP_CHUNK})`)],
          ["tokens", () => locked(sql`DELETE FROM tokens WHERE (SELECT ok FROM l) AND token_hash IN (SELECT token_hash FROM tokens WHERE expires_at_ms <= ${nowMs} LIMIT ${SWEEP_CHUNK})`)],
          [undefined, () => locked(sql`DELETE FROM rate_buckets WHERE (SELECT ok FROM l) AND updated_ms < ${nowMs} - window_ms`)],
          [undefined, () => locked(sql`DELETE FROM ephemeral_events WHERE (SELECT ok FROM l) AND posted_at_ms < ${nowMs - EPHEMERAL_RETENTION_MS}`)],
        ];
        for (const [kind, job] of jobs) {
          for (;;) {
            if (closed) return result;
            const n = await job();
            if (n === undefined) return result;
            if (kind) result[kind] += n;
            if (!kind || n < SWEEP_CHUNK) break;
          }
        }
        return result;
      }),
    takeRateToken: (bucket, key, perMinute, nowMs, windowMs = 60_000) =>
      run(async () => {
        if (!(Number.isSafeInteger(perMinute) && perMinute > 0)) throw new RangeError("perMinute must be a positive integer");
        if (!(Number.isSafeInteger(windowMs) && windowMs > 0)) throw new RangeError("windowMs must be a positive integer");
        // `perMinute` is the bucket size; it refills over `windowMs` (a minute unless given).
        const rate = perMinute / windowMs;
        // Keys derive from ids (a bundle fetch's is requester and target): the table holds only
        // their hash, and a bucket idle for its window (full again) is deleted soon after.
        const hashed = createHash("sha256").update(bucket).update("\0").update(key).digest("base64url");
        if (nowMs - lastBucketPrune >= RATE_BUCKET_IDLE_MS) {
          lastBucketPrune = nowMs;
          sql`DELETE FROM rate_buckets WHERE updated_ms < ${nowMs} - window_ms`.catch(() => undefined);
        }
        // The same token bucket as relay/rate-limit.ts, refilled and taken in one upsert.
        const [row] = await sql<Row[]>`
          INSERT INTO rate_buckets AS b (bucket, key, tokens, updated_ms, last_allowed, window_ms)
          VALUES (${bucket}, ${hashed}, ${perMinute - 1}, ${nowMs}, true, ${windowMs})
          ON CONFLICT (bucket, key) DO UPDATE SET
            tokens = CASE WHEN least(${perMinute}::float8, b.tokens + greatest(0, ${nowMs}::bigint - b.updated_ms) * ${rate}::float8) >= 1
                          THEN least(${perMinute}::float8, b.tokens + greatest(0, ${nowMs}::bigint - b.updated_ms) * ${rate}::float8) - 1
                          ELSE least(${perMinute}::float8, b.tokens + greatest(0, ${nowMs}::bigint - b.updated_ms) * ${rate}::float8) END,
            updated_ms = greatest(b.updated_ms, ${nowMs}::bigint),
            last_allowed = least(${perMinute}::float8, b.tokens + greatest(0, ${nowMs}::bigint - b.updated_ms) * ${rate}::float8) >= 1
          RETURNING tokens, last_allowed`;
        if (row?.last_allowed === true) return { allowed: true } as const;
        const tokens = Number(row?.tokens ?? 0);
        return { allowed: false, retryAfterMs: Math.max(1, Math.ceil((1 - tokens) / rate)) } as const;
      }),
    loadTrustMaterial: () =>
      run(async () => {
        const [row] = await sql<Row[]>`SELECT material FROM trust_material`;
        return row ? bytes(row.material) : undefined;
      }),
    claimTrustMaterial: (candidate) =>
      run(async () => {
        // Two statements: the SELECT's fresh snapshot sees a concurrent winner's committed row.
        await sql`INSERT INTO trust_material (material) VALUES (${candidate}) ON CONFLICT (singleton) DO NOTHING`;
        const [row] = await sql<Row[]>`SELECT material FROM trust_material`;
        if (!row) throw new Error("trust material vanished");
        return bytes(row.material);
      }),
    putEphemeral: (roomId, envelope, nowMs) =>
      run(async () => {
        const prefix = `${hint("ephemeral", roomId)}:`;
        const [row] = await sql<Row[]>`
          WITH i AS (INSERT INTO ephemeral_events (room_id, posted_at_ms, envelope) VALUES (${roomId}, ${nowMs}, ${envelope}) RETURNING id)
          SELECT id, pg_notify(${HINT_CHANNEL}, ${prefix} || id) FROM i`;
        return int(row?.id);
      }),
    notifyPreKeysLow: (address, handoutLimited) =>
      run(async () => {
        await sql`SELECT pg_notify(${HINT_CHANNEL}, ${`${hint("prekeysLow", address)}:${handoutLimited ? 1 : 0}`})`;
      }),
    getEphemeral: (id) =>
      run(async () => {
        const [row] = await sql<Row[]>`SELECT room_id, posted_at_ms, envelope FROM ephemeral_events WHERE id = ${id}`;
        return row ? { roomId: bytes(row.room_id), postedAtMs: int(row.posted_at_ms), envelope: bytes(row.envelope) } : undefined;
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      // In-flight statements finish (up to the timeout); new ones are refused.
      await sql.end({ timeout: 5 });
    },
  };
  return store;
}
