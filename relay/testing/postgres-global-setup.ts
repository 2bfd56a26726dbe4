// Vitest global setup: one throwaway PostgreSQL cluster for the whole test run
// (relay/testing/postgres-cluster.ts), its maintenance URL provided to tests as
// `inject("postgresUrl")`. Each test file creates its own databases in it
// (relay/testing/postgres-database.ts); fault tests that restart a server start their own.

import type { TestProject } from "vitest/node";
import { startPostgresCluster } from "./postgres-cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startPostgresCluster();
  project.provide("postgresUrl", cluster.url());
  return () => cluster.destroy();
}
