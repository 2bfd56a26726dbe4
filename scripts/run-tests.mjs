// Runs every vitest test once and ends with a plain closing line
// `tests: N passed, N failed` (read by CI), exiting with vitest's status.
// Extra arguments go to vitest, e.g. `npm test -- relay/`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";

const report = "test-results/vitest.json";
mkdirSync("test-results", { recursive: true });
rmSync(report, { force: true });

const run = spawnSync(
  process.execPath,
  [
    "node_modules/vitest/vitest.mjs",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: "inherit" },
);

let passed = 0;
let failed = 0;
try {
  const result = JSON.parse(readFileSync(report, "utf8"));
  passed = result.numPassedTests;
  // A file that fails to load has no failed tests but is a failed suite: count it.
  failed = result.numFailedTests || result.numFailedTestSuites;
} catch {
  failed += 1; // no report: vitest crashed before writing it
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
