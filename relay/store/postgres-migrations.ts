/**
 * PostgreSQL schema migrations for the relay store, numbered in the table `schema_version`.
 *
 * Owns: the PostgreSQL schema (the same records as relay/store/migrations.ts for SQLite, plus
 * what several processes share: rate-limit buckets, the trust material and ephemeral events in
 * transit). Migration N (1-based) moves the version from N-1 to N. Never edit a released
 * migration; append a new one. Concurrent starters serialize on an advisory lock.
 */
import type { Sql } from "postgres";

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
];

/** The schema version this code expects. */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS.length;

/**
 * Brings the database to {@link POSTGRES_SCHEMA_VERSION} in one transaction under an advisory
 * lock (several relay processes may start at once). Throws if the database is newer than this
 * code (never downgrade silently).
 */
export async function migratePostgres(sql: Sql): Promise<number> {
  return sql.begin(async (tx) => {
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
