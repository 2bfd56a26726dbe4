// Benchmark (a script, not a test): the five Signal-protocol workloads we compare with
// libsignal-client 0.103 (the oracle), ours and libsignal's measured in the same run, each
// "message" being encrypt + decrypt of a 256-byte plaintext with in-memory stores (as
// SIGNAL-FACTS "Reference throughput" measured libsignal):
//   - session setup: processPreKeyBundle, the first PreKeySignalMessage, its decryption;
//   - pairwise with a DH ratchet step every message (directions alternate);
//   - pairwise one direction (no DH steps);
//   - sender keys: groupEncrypt + groupDecrypt (libsignal's groupEncrypt/groupDecrypt);
//   - sealed sender: a ratchet message encrypted, sealed, opened (certificate validated) and
//     decrypted (libsignal's sealedSenderEncryptMessage/sealedSenderDecryptMessage).
// Runs interleave ours and libsignal's per workload; each run's ratio is printed, and the
// median ratio with its spread is held to the goals of issue 14 (bench/goals.ts).
// Owns: the measurement loops and the printed table. Prints rates only: no keys, no plaintext.
//
//   node --import tsx bench/protocol-throughput.ts [--size quick|full] [--count N] [--runs R] [--only TEXT]
// `--only TEXT` runs the workloads whose name contains TEXT (for profiling one workload with
// `node --cpu-prof`; see client/crypto/PERFORMANCE.md); `--ours-only` measures only ours (for
// profiles that show our code alone; no ratio, no goal verdict); `--cpu-time` divides by the
// process's CPU time (all threads: WebCrypto's thread pool and libsignal included) instead of
// wall time, for a machine so loaded that wall time measures the queue for a core.
//   npm run bench:protocol -- --count 1000

import { performance } from "node:perf_hooks";
import * as ls from "@signalapp/libsignal-client";
import { KeyPair } from "../client/crypto/curve.js";
import { createSenderCertificate, createServerCertificate } from "../client/sealed-sender/certificates.js";
import { sealedSenderDecryptToContent, sealedSenderEncrypt } from "../client/sealed-sender/sealed-sender.js";
import {
  createDistributionId,
  createSenderKeyDistributionMessage,
  groupDecrypt,
  groupEncrypt,
  processSenderKeyDistributionMessage,
} from "../client/sender-keys/group-cipher.js";
import { InMemorySenderKeyStore } from "../client/sender-keys/sender-key-store.js";
import { ab, LibsignalParty, OurParty, TEST_NOW_MS, type Party } from "../client/session/parties.test-support.js";
import { bySize, numericOption, sizeOption } from "./bench-args.js";
import { PROTOCOL_GOALS } from "./goals.js";
import { type Figure, finishReport } from "./report.js";
import { formatNumber, type Goal, median, spread } from "./stats.js";

const size = sizeOption();
/** Messages per workload and run (session setups use a fifth of it). */
const count = numericOption("count", bySize(size, 300, 1000));
/** Runs per workload; the median ratio is held to the goal (2 shared cores: single runs are noisy). */
const runs = numericOption("runs", bySize(size, 2, 3));
/** Plaintext size of every message. */
const PLAINTEXT_BYTES = 256;
/** Validity of the benchmark's sender certificates. */
const DAY_MS = 86_400_000;
const plaintext = new Uint8Array(PLAINTEXT_BYTES);
/** Milliseconds of wall time, or of this process's CPU time with `--cpu-time`. */
const cpuTime = process.argv.includes("--cpu-time");
const clock = cpuTime
  ? (): number => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  : (): number => performance.now();

type Kind = "ours" | "libsignal";
type AnyParty = Party & { raw: OurParty | LibsignalParty };

async function party(kind: Kind, oneTimePreKeys = 1): Promise<AnyParty> {
  if (kind === "ours") {
    // A last-resort Kyber prekey, so one responder can serve every session setup.
    const p = await OurParty.create({ oneTimePreKeys, lastResortKyber: true });
    return Object.assign(p, { raw: p });
  }
  const p = new LibsignalParty();
  return Object.assign(p, { raw: p });
}

/** Starts a session a→b (a initiates) and delivers one message each way. */
async function connect(a: AnyParty, b: AnyParty): Promise<void> {
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
    const a = initiators[i]!;
    // Bundle creation (a Kyber key generation for libsignal's test party) is not timed.
    const bundle = responder.raw instanceof OurParty ? await responder.raw.bundle(i + 1) : responder.raw.bundle();
    const start = clock();
    if (a.raw instanceof OurParty) await a.raw.builder.processPreKeyBundle(responder.address, bundle);
    else await a.raw.processBundle(responder.address, bundle);
    await responder.decrypt(a.address, await a.encrypt(responder.address, plaintext));
    elapsed += clock() - start;
  }
  return (n * 1000) / elapsed;
}

/** Messages per second, alternating directions (a DH step each) or one direction only. */
async function messageRate(kind: Kind, n: number, alternate: boolean): Promise<number> {
  const a = await party(kind);
  const b = await party(kind);
  await connect(a, b);
  const start = clock();
  for (let i = 0; i < n; i++) {
    const [from, to] = alternate && i % 2 === 1 ? [b, a] : [a, b];
    await to.decrypt(from.address, await from.encrypt(to.address, plaintext));
  }
  return (n * 1000) / (clock() - start);
}

/** libsignal's sender-key store, in memory (as its own tests keep it). */
class LsSenderKeyStore extends ls.SenderKeyStore {
  readonly records = new Map<string, ls.SenderKeyRecord>();
  async saveSenderKey(sender: ls.ProtocolAddress, distributionId: string, record: ls.SenderKeyRecord): Promise<void> {
    this.records.set(`${sender.toString()}/${distributionId}`, record);
  }
  async getSenderKey(sender: ls.ProtocolAddress, distributionId: string): Promise<ls.SenderKeyRecord | null> {
    return this.records.get(`${sender.toString()}/${distributionId}`) ?? null;
  }
}

/** Sender-key messages per second: groupEncrypt at the sender, groupDecrypt at one receiver. */
async function senderKeyRate(kind: Kind, n: number): Promise<number> {
  if (kind === "ours") {
    const senderStore = new InMemorySenderKeyStore();
    const receiverStore = new InMemorySenderKeyStore();
    const distributionId = createDistributionId();
    const skdm = await createSenderKeyDistributionMessage(senderStore, "sender", distributionId);
    await processSenderKeyDistributionMessage(receiverStore, "sender", skdm);
    const start = clock();
    for (let i = 0; i < n; i++) await groupDecrypt(receiverStore, "sender", await groupEncrypt(senderStore, "sender", distributionId, plaintext));
    return (n * 1000) / (clock() - start);
  }
  const sender = ls.ProtocolAddress.new(crypto.randomUUID(), 1);
  const senderStore = new LsSenderKeyStore();
  const receiverStore = new LsSenderKeyStore();
  const distributionId = crypto.randomUUID();
  const skdm = await ls.SenderKeyDistributionMessage.create(sender, distributionId, senderStore);
  await ls.processSenderKeyDistributionMessage(sender, ls.SenderKeyDistributionMessage.deserialize(skdm.serialize()), receiverStore);
  const pt = ab(plaintext);
  const start = clock();
  for (let i = 0; i < n; i++) {
    const message = await ls.groupEncrypt(sender, distributionId, senderStore, pt);
    await ls.groupDecrypt(sender, receiverStore, message.serialize());
  }
  return (n * 1000) / (clock() - start);
}

/**
 * Sealed-sender messages per second: a ratchet message encrypted and sealed by the sender,
 * opened (sender certificate validated against the trust root) and decrypted by the recipient.
 */
async function sealedSenderRate(kind: Kind, n: number): Promise<number> {
  const a = await party(kind);
  const b = await party(kind);
  await connect(a, b);
  if (a.raw instanceof OurParty && b.raw instanceof OurParty) {
    const sender = a.raw;
    const recipient = b.raw;
    const root = KeyPair.generate();
    const server = KeyPair.generate();
    const certificate = createSenderCertificate({
      serverCertificate: createServerCertificate(root.privateKey, 1, server.publicKey),
      serverPrivateKey: server.privateKey,
      senderIdentityKey: sender.identity.publicKey,
      expiresAtMs: TEST_NOW_MS + DAY_MS,
    });
    const start = clock();
    for (let i = 0; i < n; i++) {
      const inner = await sender.encrypt(recipient.address, plaintext);
      const sealed = await sealedSenderEncrypt(
        recipient.identity.publicKey,
        certificate,
        { type: inner.type === 3 ? "prekey_message" : "message", content: inner.body },
        sender.identity,
      );
      const opened = await sealedSenderDecryptToContent(sealed, recipient.identity, root.publicKey, TEST_NOW_MS);
      await recipient.decrypt(sender.address, { type: opened.type === "prekey_message" ? 3 : 2, body: opened.content });
    }
    return (n * 1000) / (clock() - start);
  }
  if (!(a.raw instanceof LibsignalParty && b.raw instanceof LibsignalParty)) throw new Error("mixed parties");
  const sender = a.raw;
  const recipient = b.raw;
  const root = ls.PrivateKey.generate();
  const server = ls.PrivateKey.generate();
  const now = Date.now();
  const certificate = ls.SenderCertificate.new(
    sender.name,
    null,
    1,
    sender.identity.publicKey,
    now + DAY_MS,
    ls.ServerCertificate.new(1, server.getPublicKey(), root),
    server,
  );
  const pt = ab(plaintext);
  const start = clock();
  for (let i = 0; i < n; i++) {
    const sealed = await ls.sealedSenderEncryptMessage(pt, recipient.lsAddress, certificate, sender.sessions, sender.identities);
    await ls.sealedSenderDecryptMessage(
      sealed,
      root.getPublicKey(),
      now,
      null,
      recipient.name,
      1,
      recipient.sessions,
      recipient.identities,
      recipient.preKeys,
      recipient.signedPreKeys,
      recipient.kyberPreKeys,
    );
  }
  return (n * 1000) / (clock() - start);
}

const workloads: Array<{ name: string; goal: Goal; run: (kind: Kind) => Promise<number> }> = [
  { name: "session setup", goal: PROTOCOL_GOALS.setup, run: (kind) => setupRate(kind, Math.max(1, Math.floor(count / 5))) },
  { name: "pairwise, DH step every message", goal: PROTOCOL_GOALS.dhStep, run: (kind) => messageRate(kind, count, true) },
  { name: "pairwise, one direction", goal: PROTOCOL_GOALS.oneDirection, run: (kind) => messageRate(kind, count, false) },
  { name: "sender keys, encrypt + decrypt", goal: PROTOCOL_GOALS.senderKeys, run: (kind) => senderKeyRate(kind, count) },
  { name: "sealed sender, ratchet message sealed + opened", goal: PROTOCOL_GOALS.sealedSender, run: (kind) => sealedSenderRate(kind, Math.max(1, Math.floor(count / 2))) },
];

/** `--only TEXT`: the workloads whose name contains TEXT (all when absent). */
function selectedWorkloads(): typeof workloads {
  const index = process.argv.indexOf("--only");
  if (index < 0) return workloads;
  const text = process.argv[index + 1] ?? "";
  const chosen = workloads.filter((w) => w.name.includes(text));
  if (chosen.length === 0) throw new RangeError(`--only ${text}: no workload name contains it`);
  return chosen;
}

async function main(): Promise<void> {
  const chosen = selectedWorkloads();
  if (process.argv.includes("--ours-only")) {
    for (const w of chosen) await w.run("ours");
    for (const w of chosen) console.log(`${w.name.padEnd(48)} ours ${formatNumber(await w.run("ours")).padStart(7)}/s`);
    return;
  }
  console.log(`protocol throughput: ${PLAINTEXT_BYTES}-byte messages, encrypt + decrypt, ${runs} run(s), ours and libsignal interleaved${cpuTime ? ", rates per CPU second" : ""}`);
  // Warm-up: one short pass of every workload for both, so JIT and native loading are not timed.
  for (const w of chosen) for (const kind of ["ours", "libsignal"] as const) await w.run(kind);
  const figures: Figure[] = [];
  for (const w of chosen) {
    const ours: number[] = [];
    const theirs: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < runs; r++) {
      // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
      const order: Kind[] = r % 2 === 0 ? ["ours", "libsignal"] : ["libsignal", "ours"];
      const rate: Record<Kind, number> = { ours: 0, libsignal: 0 };
      for (const kind of order) rate[kind] = await w.run(kind);
      ours.push(rate.ours);
      theirs.push(rate.libsignal);
      ratios.push(rate.ours / rate.libsignal);
      console.log(
        `${w.name.padEnd(48)} run ${r + 1}: ours ${formatNumber(rate.ours).padStart(7)}/s  libsignal ${formatNumber(rate.libsignal).padStart(7)}/s  ratio ${formatNumber(rate.ours / rate.libsignal)}`,
      );
    }
    const s = spread(ratios);
    figures.push({
      name: `${w.name}: ours ÷ libsignal`,
      value: median(ratios),
      unit: "×",
      note: `ours ${formatNumber(median(ours))} msg/s; ratio spread ${formatNumber(s.min)}–${formatNumber(s.max)} over ${runs} runs`,
      reference: { label: "libsignal", value: median(theirs), unit: "msg/s" },
      goal: w.goal,
    });
  }
  finishReport({
    benchmark: "protocol vs libsignal",
    setup: `${PLAINTEXT_BYTES}-byte messages encrypted and decrypted with in-memory stores, ${count} per run (setups ${Math.max(1, Math.floor(count / 5))}, sealed ${Math.max(1, Math.floor(count / 2))}), ${runs} interleaved runs after a warm-up, libsignal-client 0.103 in the same process${cpuTime ? ", rates per second of process CPU time (--cpu-time)" : ""}`,
    figures,
    series: [],
  });
}

await main();
