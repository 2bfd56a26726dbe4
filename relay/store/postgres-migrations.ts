/**
 * PostgreSQL schema migrations for the relay store, numbered in the table `schema_version`.
 *
 * Owns: the PostgreSQL schema (the same records as relay/store/migrations.ts for SQLite, plus
 * what several processes share: rate-limit buckets, the trust material and ephemeral events in
 * transit). Migration N (1-based) moves the version from N-1 to N. Never edit a released
 * migration; append a new one. Concurrent starters serialize on an advisory lock.
 */
import type { Sql } from "postgres";
import { transaction } from "./postgres-transaction.js";

/** Advisory lock key held while migrating (an arbitrary constant: "SCmig"). */
const MIGRATION_LOCK_KEY = 0x53436d6967;

/** The migrations, in order; index i brings the schema to version i + 1. */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: initial schema.
  `
  CREATE TABLE accounts (
    address bytea PRIMARY KEY,
    identity_key bytea NOT NULL,
    registration_id integer NOT NULL,
    created_at_ms bigint NOT NULL,
    delivery_token_hash bytea
  );

  CREATE TABLE challenges (
    challenge bytea PRIMARY KEY,
    identity_key bytea NOT NULL,
    expires_at_ms bigint NOT NULL
  );
  CREATE INDEX challenges_expiry ON challenges (expires_at_ms);

  CREATE TABLE tokens (
    token_hash bytea PRIMARY KEY,
    address bytea NOT NULL REFERENCES accounts (address) ON DELETE CASCADE,
    expires_at_ms bigint NOT NULL
  );
  CREATE INDEX tokens_address ON tokens (address);
  CREATE INDEX tokens_expiry ON tokens (expires_at_ms);

  CREATE TABLE signed_prekeys (
    address bytea PRIMARY KEY REFERENCES accounts (address) ON DELETE CASCADE,
    id integer NOT NULL,
    public_key bytea NOT NULL,
    signature bytea NOT NULL
  );

  CREATE TABLE last_resort_kyber_prekeys (
    address bytea PRIMARY KEY REFERENCES accounts (address) ON DELETE CASCADE,
    id integer NOT NULL,
    public_key bytea NOT NULL,
    signature bytea NOT NULL
  );

  CREATE TABLE one_time_prekeys (
    address bytea NOT NULL REFERENCES accounts (address) ON DELETE CASCADE,
    id integer NOT NULL,
    public_key bytea NOT NULL,
    PRIMARY KEY (address, id)
  );

  CREATE TABLE kyber_prekeys (
    row_id bigserial PRIMARY KEY,
    address bytea NOT NULL REFERENCES accounts (address) ON DELETE CASCADE,
    id integer NOT NULL,
    public_key bytea NOT NULL,
    signature bytea NOT NULL,
    UNIQUE (address, id)
  );
  CREATE INDEX kyber_prekeys_address ON kyber_prekeys (address, row_id);

  CREATE TABLE mailbox (
    id bigserial PRIMARY KEY,
    address bytea NOT NULL REFERENCES accounts (address) ON DELETE CASCADE,
    stored_at_ms bigint NOT NULL,
    envelope bytea NOT NULL
  );
  CREATE INDEX mailbox_address ON mailbox (address, id);
  CREATE INDEX mailbox_stored ON mailbox (stored_at_ms);

  CREATE TABLE rooms (
    room_id bytea PRIMARY KEY,
    access_key_hash bytea NOT NULL,
    previous_access_key_hash bytea,
    created_at_ms bigint NOT NULL,
    latest_seq bigint NOT NULL DEFAULT 0
  );

  CREATE TABLE room_events (
    room_id bytea NOT NULL REFERENCES rooms (room_id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    posted_at_ms bigint NOT NULL,
    envelope bytea NOT NULL,
    PRIMARY KEY (room_id, seq)
  );
  CREATE INDEX room_events_posted ON room_events (posted_at_ms);

  -- Token buckets shared by every process. UNLOGGED: not worth a WAL flush; a crash of the
  -- database forgives every bucket, which only errs towards serving.
  CREATE UNLOGGED TABLE rate_buckets (
    bucket text NOT NULL,
    key text NOT NULL,
    tokens double precision NOT NULL,
    updated_ms bigint NOT NULL,
    last_allowed boolean NOT NULL,
    PRIMARY KEY (bucket, key)
  );
  CREATE INDEX rate_buckets_updated ON rate_buckets (updated_ms);

  -- The trust root and server key every process signs with: one row.
  CREATE TABLE trust_material (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    material bytea NOT NULL
  );

  -- Ephemeral room events in transit between processes (never durable, swept after a minute).
  CREATE UNLOGGED TABLE ephemeral_events (
    id bigserial PRIMARY KEY,
    room_id bytea NOT NULL,
    posted_at_ms bigint NOT NULL,
    envelope bytea NOT NULL
  );
  CREATE INDEX ephemeral_events_posted ON ephemeral_events (posted_at_ms);
  `,
  // 2: byte counters for the quotas (API-31) and the challenge count (API-28), kept by
  // triggers so that every insert and delete (acks, sweeps, cascades) updates them.
  `
  -- A bucket's refill window (API-29 uses an hour): pruning deletes a bucket only once it has
  -- been idle for its whole window, when it is full again.
  ALTER TABLE rate_buckets ADD COLUMN window_ms bigint NOT NULL DEFAULT 60000;
  ALTER TABLE accounts ADD COLUMN mailbox_bytes bigint NOT NULL DEFAULT 0;
  ALTER TABLE rooms ADD COLUMN log_bytes bigint NOT NULL DEFAULT 0;
  -- Sharded by the first byte of the address, room id or challenge: one shared row would
  -- serialize every append of every relay process on its lock. Totals are the sum of 64 rows.
  CREATE TABLE storage_usage (
    shard smallint PRIMARY KEY,
    stored_bytes bigint NOT NULL DEFAULT 0,
    challenges bigint NOT NULL DEFAULT 0
  );
  INSERT INTO storage_usage (shard) SELECT generate_series(0, 63);
  UPDATE storage_usage SET
    stored_bytes = (SELECT coalesce(sum(octet_length(envelope)), 0) FROM mailbox) + (SELECT coalesce(sum(octet_length(envelope)), 0) FROM room_events),
    challenges = (SELECT count(*) FROM challenges)
  WHERE shard = 0;
  UPDATE accounts SET mailbox_bytes = (SELECT coalesce(sum(octet_length(envelope)), 0) FROM mailbox m WHERE m.address = accounts.address);
  UPDATE rooms SET log_bytes = (SELECT coalesce(sum(octet_length(envelope)), 0) FROM room_events e WHERE e.room_id = rooms.room_id);
  CREATE FUNCTION count_mailbox_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      UPDATE accounts SET mailbox_bytes = mailbox_bytes + octet_length(NEW.envelope) WHERE address = NEW.address;
      UPDATE storage_usage SET stored_bytes = stored_bytes + octet_length(NEW.envelope) WHERE shard = get_byte(NEW.address, 0) % 64;
    ELSE
      UPDATE accounts SET mailbox_bytes = mailbox_bytes - octet_length(OLD.envelope) WHERE address = OLD.address;
      UPDATE storage_usage SET stored_bytes = stored_bytes - octet_length(OLD.envelope) WHERE shard = get_byte(OLD.address, 0) % 64;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER mailbox_bytes AFTER INSERT OR DELETE ON mailbox FOR EACH ROW EXECUTE FUNCTION count_mailbox_bytes();
  CREATE FUNCTION count_room_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      UPDATE rooms SET log_bytes = log_bytes + octet_length(NEW.envelope) WHERE room_id = NEW.room_id;
      UPDATE storage_usage SET stored_bytes = stored_bytes + octet_length(NEW.envelope) WHERE shard = get_byte(NEW.room_id, 0) % 64;
    ELSE
      UPDATE rooms SET log_bytes = log_bytes - octet_length(OLD.envelope) WHERE room_id = OLD.room_id;
      UPDATE storage_usage SET stored_bytes = stored_bytes - octet_length(OLD.envelope) WHERE shard = get_byte(OLD.room_id, 0) % 64;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER room_bytes AFTER INSERT OR DELETE ON room_events FOR EACH ROW EXECUTE FUNCTION count_room_bytes();
  CREATE FUNCTION count_challenges() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      UPDATE storage_usage SET challenges = challenges + 1 WHERE shard = get_byte(NEW.challenge, 0) % 64;
    ELSE
      UPDATE storage_usage SET challenges = challenges - 1 WHERE shard = get_byte(OLD.challenge, 0) % 64;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER challenges_count AFTER INSERT OR DELETE ON challenges FOR EACH ROW EXECUTE FUNCTION count_challenges();
  `,
  // Invite boxes (spec/10-relay-api.md API-40), at most one per room.
  `
  CREATE TABLE invite_boxes (
    room_id bytea PRIMARY KEY REFERENCES rooms(room_id) ON DELETE CASCADE,
    address_hash bytea NOT NULL,
    box bytea NOT NULL,
    updated_at_ms bigint NOT NULL
  );
  `,
];

/** The schema version this code expects. */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS.length;

/**
 * Brings the database to {@link POSTGRES_SCHEMA_VERSION} in one transaction under an advisory
 * lock (several relay processes may start at once). Throws if the database is newer than this
 * code (never downgrade silently).
 */
export async function migratePostgres(sql: Sql): Promise<number> {
  return transaction(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_version`;
    let version = rows[0]?.version ?? 0;
    if (rows.length === 0) await tx`INSERT INTO schema_version (version) VALUES (0)`;
    if (version > POSTGRES_SCHEMA_VERSION) throw new Error("relay database is newer than this relay");
    while (version < POSTGRES_SCHEMA_VERSION) {
      const ddl = POSTGRES_MIGRATIONS[version];
      if (ddl === undefined) throw new Error("missing migration");
      await tx.unsafe(ddl);
      version++;
      await tx`UPDATE schema_version SET version = ${version}`;
    }
    return version;
  });
}
