// A fresh database per test in the run's shared PostgreSQL cluster
// (relay/testing/postgres-global-setup.ts). Test-only.

import postgres from "postgres";
import { inject } from "vitest";

let counter = 0;

/** Creates an empty database in the run's cluster; returns its URL and a function dropping it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = inject("postgresUrl");
  const name = `t${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const url = base.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    async drop() {
      const a = postgres(base, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end({ timeout: 1 });
      }
    },
  };
}
