import { defineConfig } from "vitest/config";

// One test run for the whole repository: unit, property, interop, relay and end-to-end tests
// live beside the code they test as `*.test.ts` (STYLE.md, Tests).
export default defineConfig({
  test: {
    include: ["**/*.test.ts", "**/*.test.tsx"],
    exclude: ["node_modules/**", "dist/**", "web/dist/**", "data/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here: keep parallelism modest so timing-sensitive end-to-end tests stay calm.
    maxWorkers: 2,
  },
});
