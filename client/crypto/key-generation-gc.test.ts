// Key generation on the Node fast paths survives garbage collection (spec EN-01, EN-03): on
// Node 20, `generateKeyPairSync` followed by a JWK export of the generated key deadlocks the
// process for good when a collection runs during the export (the finished generation job's
// destructor waits for the mutex the export holds). The rooms benchmark hung so, in a member
// process generating keys for many clients. The generators now import a seed drawn from the
// CSPRNG instead. Run in a child process, so the old behaviour fails this test by its timeout
// instead of hanging the test runner: thousands of X25519 pairs generated under allocation
// pressure must all finish (the old X25519 generator deadlocked here within 8,000 in every
// run; the Ed25519 one, same pattern and same fix, did not in this loop, so it is only run).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../..", import.meta.url));

/** Generations per kind: the old code deadlocked within a few thousand here. */
const GENERATIONS = 8_000;
/** The child's time limit: the work takes a few seconds; a deadlock never ends. */
const CHILD_LIMIT_MS = 60_000;

const script = `
import { generateX25519Node } from "./client/crypto/x25519.ts";
import { generateEd25519SigningKey } from "./client/crypto/xeddsa.ts";
let junk = [];
for (let i = 0; i < ${GENERATIONS}; i++) {
  const x = generateX25519Node();
  // Allocation pressure, so collections run during the generator's native calls.
  junk.push(new Array(64).fill(x.u));
  if (junk.length > 2000) junk = [];
}
for (let i = 0; i < ${GENERATIONS} / 4; i++) {
  const e = generateEd25519SigningKey();
  if (e === undefined) throw new Error("no native Ed25519 signing");
  junk.push(new Array(64).fill(e.aBytes));
  if (junk.length > 2000) junk = [];
}
process.stdout.write("finished");
`;

describe("native key generation and garbage collection", () => {
  it(`generates ${GENERATIONS} X25519 pairs (and Ed25519 signing keys) under allocation pressure without hanging`, () => {
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: repo,
      timeout: CHILD_LIMIT_MS,
      killSignal: "SIGKILL",
      encoding: "utf8",
    });
    expect(child.signal).toBeNull(); // SIGKILL: the time limit passed (a deadlock)
    expect(child.status).toBe(0);
    expect(child.stdout).toBe("finished");
  }, CHILD_LIMIT_MS + 10_000);
});
