import solid from "vite-plugin-solid";
import { defineConfig } from "vitest/config";

// One test run for the whole repository: unit, property, interop, relay and end-to-end tests
// live beside the code they test as `*.test.ts` (STYLE.md, Tests).
//
// Two projects, so the Solid compiler and a DOM touch only the web app's component tests:
// "node" runs every `*.test.ts` in plain Node (including the web's browser tests, which drive
// real Chromium from Node); "web" runs `web/src/**` tests with vite-plugin-solid in happy-dom.
const excluded = ["node_modules/**", "dist/**", "web/dist/**", "data/**"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here: keep parallelism modest so timing-sensitive end-to-end tests stay calm.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "node",
          include: ["**/*.test.ts"],
          exclude: [...excluded, "web/src/**"],
          // One throwaway PostgreSQL cluster per run for the relay's PostgreSQL tests.
          globalSetup: ["relay/testing/postgres-global-setup.ts"],
        },
      },
      {
        extends: true,
        plugins: [solid()],
        test: {
          name: "web",
          include: ["web/src/**/*.test.ts", "web/src/**/*.test.tsx"],
          exclude: excluded,
          environment: "happy-dom",
        },
      },
    ],
  },
});
