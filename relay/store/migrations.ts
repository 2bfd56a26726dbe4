/**
 * SQLite schema migrations for the relay store, numbered by `PRAGMA user_version`.
 *
 * Owns: the schema. Migration N (1-based) moves user_version from N-1 to N. Never edit a
 * released migration; append a new one.
 */
import type Database from "better-sqlite3";

/** The migrations, in order; index i brings the schema to version i + 1. */
export const MIGRATIONS: readonly string[] = [
  // 1: initial schema.
  `
  CREATE TABLE accounts (
    address BLOB PRIMARY KEY,
    identity_key BLOB NOT NULL,
    registration_id INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    delivery_token_hash BLOB
  ) WITHOUT ROWID;

  CREATE TABLE challenges (
    challenge BLOB PRIMARY KEY,
    identity_key BLOB NOT NULL,
    expires_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX challenges_expiry ON challenges(expires_at_ms);

  CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY,
    address BLOB NOT NULL REFERENCES accounts(address) ON DELETE CASCADE,
    expires_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX tokens_address ON tokens(address);
  CREATE INDEX tokens_expiry ON tokens(expires_at_ms);

  CREATE TABLE signed_prekeys (
    address BLOB PRIMARY KEY REFERENCES accounts(address) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    signature BLOB NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE last_resort_kyber_prekeys (
    address BLOB PRIMARY KEY REFERENCES accounts(address) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    signature BLOB NOT NULL
  );

  CREATE TABLE one_time_prekeys (
    address BLOB NOT NULL REFERENCES accounts(address) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    PRIMARY KEY (address, id)
  ) WITHOUT ROWID;

  CREATE TABLE kyber_prekeys (
    row INTEGER PRIMARY KEY,
    address BLOB NOT NULL REFERENCES accounts(address) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    signature BLOB NOT NULL,
    UNIQUE (address, id)
  );

  CREATE TABLE mailbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address BLOB NOT NULL REFERENCES accounts(address) ON DELETE CASCADE,
    stored_at_ms INTEGER NOT NULL,
    envelope BLOB NOT NULL
  );
  CREATE INDEX mailbox_address ON mailbox(address, id);
  CREATE INDEX mailbox_stored ON mailbox(stored_at_ms);

  CREATE TABLE rooms (
    room_id BLOB PRIMARY KEY,
    access_key_hash BLOB NOT NULL,
    previous_access_key_hash BLOB,
    created_at_ms INTEGER NOT NULL,
    latest_seq INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;

  CREATE TABLE room_events (
    row INTEGER PRIMARY KEY,
    room_id BLOB NOT NULL REFERENCES rooms(room_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    posted_at_ms INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    UNIQUE (room_id, seq)
  );
  CREATE INDEX room_events_posted ON room_events(posted_at_ms);
  `,
  // 2: byte counters for the quotas (API-31) and the challenge count (API-28), kept by
  // triggers so that every insert and delete (acks, sweeps, cascades) updates them.
  `
  ALTER TABLE accounts ADD COLUMN mailbox_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rooms ADD COLUMN log_bytes INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE storage_usage (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    stored_bytes INTEGER NOT NULL,
    challenges INTEGER NOT NULL
  );
  INSERT INTO storage_usage (singleton, stored_bytes, challenges) VALUES (
    1,
    (SELECT coalesce(sum(length(envelope)), 0) FROM mailbox) + (SELECT coalesce(sum(length(envelope)), 0) FROM room_events),
    (SELECT count(*) FROM challenges)
  );
  UPDATE accounts SET mailbox_bytes = (SELECT coalesce(sum(length(envelope)), 0) FROM mailbox m WHERE m.address = accounts.address);
  UPDATE rooms SET log_bytes = (SELECT coalesce(sum(length(envelope)), 0) FROM room_events e WHERE e.room_id = rooms.room_id);
  CREATE TRIGGER mailbox_bytes_in AFTER INSERT ON mailbox BEGIN
    UPDATE accounts SET mailbox_bytes = mailbox_bytes + length(NEW.envelope) WHERE address = NEW.address;
    UPDATE storage_usage SET stored_bytes = stored_bytes + length(NEW.envelope);
  END;
  CREATE TRIGGER mailbox_bytes_out AFTER DELETE ON mailbox BEGIN
    UPDATE accounts SET mailbox_bytes = mailbox_bytes - length(OLD.envelope) WHERE address = OLD.address;
    UPDATE storage_usage SET stored_bytes = stored_bytes - length(OLD.envelope);
  END;
  CREATE TRIGGER room_bytes_in AFTER INSERT ON room_events BEGIN
    UPDATE rooms SET log_bytes = log_bytes + length(NEW.envelope) WHERE room_id = NEW.room_id;
    UPDATE storage_usage SET stored_bytes = stored_bytes + length(NEW.envelope);
  END;
  CREATE TRIGGER room_bytes_out AFTER DELETE ON room_events BEGIN
    UPDATE rooms SET log_bytes = log_bytes - length(OLD.envelope) WHERE room_id = OLD.room_id;
    UPDATE storage_usage SET stored_bytes = stored_bytes - length(OLD.envelope);
  END;
  CREATE TRIGGER challenges_in AFTER INSERT ON challenges BEGIN
    UPDATE storage_usage SET challenges = challenges + 1;
  END;
  CREATE TRIGGER challenges_out AFTER DELETE ON challenges BEGIN
    UPDATE storage_usage SET challenges = challenges - 1;
  END;
  `,
  // 5 (or next): invite boxes (spec/10-relay-api.md API-40), at most one per room.
  `
  CREATE TABLE invite_boxes (
    room_id BLOB PRIMARY KEY REFERENCES rooms(room_id) ON DELETE CASCADE,
    address_hash BLOB NOT NULL,
    box BLOB NOT NULL,
    updated_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** The schema version this code expects. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to {@link SCHEMA_VERSION}, one migration per transaction. Throws if the
 * file is newer than this code (never downgrade silently).
 */
export function migrate(db: Database.Database): number {
  let version = db.pragma("user_version", { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw new Error("relay database is newer than this relay");
  while (version < SCHEMA_VERSION) {
    const sql = MIGRATIONS[version];
    if (sql === undefined) throw new Error("missing migration");
    const next = version + 1;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${next}`);
    }).immediate();
    version = next;
  }
  return version;
}
