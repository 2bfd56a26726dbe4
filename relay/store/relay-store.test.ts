// Runs the RelayStore contract (relay/store/relay-store.contract.ts) against both backends:
// SQLite on a fresh temporary directory, PostgreSQL on a fresh database in the run's cluster.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase } from "../testing/postgres-database.js";
import { openPostgresStore } from "./postgres-store.js";
import { describeRelayStoreContract } from "./relay-store.contract.js";
import { openSqliteStore } from "./sqlite-store.js";

describeRelayStoreContract("SQLite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "securecomm-store-"));
  return {
    open: async () => openSqliteStore({ dataDir: dir }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describeRelayStoreContract("PostgreSQL", async () => {
  const db = await createTestDatabase();
  return {
    open: () => openPostgresStore({ url: db.url }),
    destroy: () => db.drop(),
  };
});
