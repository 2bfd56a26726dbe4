// Benchmark (a script, not a test): pairwise Signal-protocol throughput of our implementation
// against libsignal-client 0.103 (the oracle) in the same run, each "message" being encrypt +
// decrypt of a 256-byte plaintext with in-memory stores (as SIGNAL-FACTS "Reference
// throughput" measured libsignal):
//   - session setup: processPreKeyBundle, the first PreKeySignalMessage, its decryption;
//   - pairwise with a DH ratchet step every message (directions alternate);
//   - one direction (no DH steps).
// Owns: the measurement loops and the printed table. Prints rates only: no keys, no plaintext.
//
//   node --import tsx bench/protocol-throughput.ts [--count N] [--runs R]
//   npm run bench:protocol -- --count 1000

import { performance } from "node:perf_hooks";
import { LibsignalParty, OurParty, type Party } from "../client/session/parties.test-support.js";
import { median, numericOption } from "./bench-args.js";

/** Default messages per scenario and run (session setups use a fifth of it). */
const DEFAULT_COUNT = 2000;
/** Default runs per scenario; the median is printed (2 shared cores: single runs are noisy). */
const DEFAULT_RUNS = 3;
/** Plaintext size of every message. */
const PLAINTEXT_BYTES = 256;

const count = numericOption("count", DEFAULT_COUNT);
const runs = numericOption("runs", DEFAULT_RUNS);
const plaintext = new Uint8Array(PLAINTEXT_BYTES);

type Kind = "ours" | "libsignal";

async function party(kind: Kind, oneTimePreKeys = 1): Promise<Party & { kind: Kind; raw: OurParty | LibsignalParty }> {
  if (kind === "ours") {
    // A last-resort Kyber prekey, so one responder can serve every session setup.
    const p = await OurParty.create({ oneTimePreKeys, lastResortKyber: true });
    return Object.assign(p, { kind, raw: p });
  }
  const p = new LibsignalParty();
  return Object.assign(p, { kind, raw: p });
}

/** Starts a session a→b (a initiates) and delivers one message each way. */
async function connect(a: Awaited<ReturnType<typeof party>>, b: Awaited<ReturnType<typeof party>>): Promise<void> {
  const bundle = b.raw instanceof OurParty ? await b.raw.bundle(1) : b.raw.bundle();
  if (a.raw instanceof OurParty) await a.raw.builder.processPreKeyBundle(b.address, bundle);
  else await a.raw.processBundle(b.address, bundle);
  await b.decrypt(a.address, await a.encrypt(b.address, plaintext));
  await a.decrypt(b.address, await b.encrypt(a.address, plaintext));
}

/** Session setups per second: bundle processing, first message, its decryption. */
async function setupRate(kind: Kind, n: number): Promise<number> {
  const responder = await party(kind, n);
  const initiators = await Promise.all(Array.from({ length: n }, () => party(kind)));
  let elapsed = 0;
  for (let i = 0; i < n; i++) {
    const a = initiators[i];
    if (a === undefined) throw new Error("missing initiator");
    // Bundle creation (a Kyber key generation for libsignal's test party) is not timed.
    const bundle = responder.raw instanceof OurParty ? await responder.raw.bundle(i + 1) : responder.raw.bundle();
    const start = performance.now();
    if (a.raw instanceof OurParty) await a.raw.builder.processPreKeyBundle(responder.address, bundle);
    else await a.raw.processBundle(responder.address, bundle);
    await responder.decrypt(a.address, await a.encrypt(responder.address, plaintext));
    elapsed += performance.now() - start;
  }
  return (n * 1000) / elapsed;
}

/** Messages per second, alternating directions (a DH step each) or one direction only. */
async function messageRate(kind: Kind, n: number, alternate: boolean): Promise<number> {
  const a = await party(kind);
  const b = await party(kind);
  await connect(a, b);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const [from, to] = alternate && i % 2 === 1 ? [b, a] : [a, b];
    await to.decrypt(from.address, await from.encrypt(to.address, plaintext));
  }
  return (n * 1000) / (performance.now() - start);
}

const scenarios: Array<{ name: string; run: (kind: Kind) => Promise<number> }> = [
  { name: "session setup", run: (kind) => setupRate(kind, Math.max(1, Math.floor(count / 5))) },
  { name: "pairwise, DH step every message", run: (kind) => messageRate(kind, count, true) },
  { name: "pairwise, one direction", run: (kind) => messageRate(kind, count, false) },
];

console.log(`protocol throughput: ${PLAINTEXT_BYTES}-byte messages, encrypt + decrypt, median of ${runs} run(s)`);
console.log("scenario".padEnd(34) + "ours msg/s".padStart(12) + "libsignal msg/s".padStart(17) + "ratio".padStart(8));
for (const scenario of scenarios) {
  const results: Record<Kind, number[]> = { ours: [], libsignal: [] };
  for (let r = 0; r < runs; r++) {
    for (const kind of ["ours", "libsignal"] as const) results[kind].push(await scenario.run(kind));
  }
  const ours = median(results.ours);
  const theirs = median(results.libsignal);
  console.log(
    scenario.name.padEnd(34) +
      ours.toFixed(0).padStart(12) +
      theirs.toFixed(0).padStart(17) +
      (ours / theirs).toFixed(2).padStart(8),
  );
}
