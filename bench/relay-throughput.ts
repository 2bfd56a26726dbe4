// Benchmark (a script, not a test): sealed sends and room posts per second against the relay
// (relay/main.ts in its own process, SQLite in a temp dir), over Connect on HTTP/1.1 and
// HTTP/2, gRPC on h2c and gRPC-Web on HTTP/1.1, beside the same transport's GetRelayInfo rate
// (no storage: the transport's own ceiling, measured in the same run).
//
// Owns: the measurement loops and the printed table. Every cell is warmed up before it is
// timed, and the cells run in repeats interleaving the transports; the median is reported
// with its spread. Loops are bounded by --count; relay limits are raised for the run (RELAY_*
// environment) so the limits, not the transport, would show if they were hit.
//
//   npm run bench:relay-throughput -- [--size quick|full] [--count N] [--repeats R]
//                                     [--concurrency C] [--bytes B]

import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AccountService } from "../gen/securecomm/relay/v1/account_pb.js";
import { MessageService } from "../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../gen/securecomm/relay/v1/relay_info_pb.js";
import { RoomService } from "../gen/securecomm/relay/v1/rooms_pb.js";
import { bySize, numericOption, sizeOption } from "./bench-args.js";
import { registerAccount, startHostedServer } from "./bench-servers.js";
import { type BenchResult, type Figure, finishReport, writeResultFile } from "./report.js";
import { formatNumber, median, spread } from "./stats.js";

const size = sizeOption();
/** Operations per cell and repeat. */
const count = numericOption("count", bySize(size, 200, 400), 100_000);
const repeats = numericOption("repeats", bySize(size, 1, 3), 20);
const concurrency = numericOption("concurrency", 32, 1000);
/** Envelope size: a padded text message in a sealed-sender envelope is a few hundred bytes. */
const bytes = numericOption("bytes", 300, 1 << 16);
/** Operations of the untimed warm-up of each cell. */
const WARM_UP = 200;

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

/** Runs `n` calls of `op` with `concurrency` in flight; returns operations per second. */
async function measure(n: number, op: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        next++;
        await op();
      }
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "securecomm-bench-"));
  const { url, host } = await startHostedServer("relay", dataDir);
  try {
    const setup = createConnectTransport({ baseUrl: url, httpVersion: "2" });
    const { headers, address } = await registerAccount(url);
    const deliveryToken = random(32);
    await createClient(AccountService, setup).setDeliveryToken({ deliveryTokenHash: sha256(deliveryToken) }, { headers });
    const roomId = random(16);
    const accessKey = random(32);
    await createClient(RoomService, setup).createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers });
    const envelope = random(bytes);

    const transports: Array<[string, Transport]> = [
      ["Connect HTTP/1.1", createConnectTransport({ baseUrl: url, httpVersion: "1.1" })],
      ["Connect HTTP/2", createConnectTransport({ baseUrl: url, httpVersion: "2" })],
      ["gRPC h2c", createGrpcTransport({ baseUrl: url })],
      ["gRPC-Web HTTP/1.1", createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" })],
    ];
    const cells = transports.map(([name, transport]) => {
      const messages = createClient(MessageService, transport);
      const rooms = createClient(RoomService, transport);
      const info = createClient(RelayInfoService, transport);
      return {
        name,
        ops: {
          info: () => info.getRelayInfo({}),
          sends: () => messages.sendSealed({ recipientAddress: address, deliveryToken, envelope }),
          posts: () => rooms.postToRoom({ roomId, accessKey, envelope }),
        },
      };
    });
    type Op = "info" | "sends" | "posts";
    const OPS: Op[] = ["info", "sends", "posts"];
    console.log(`relay throughput (${size}): ${count} ops per cell, ${concurrency} in flight, ${bytes}-byte envelopes, relay in its own process`);
    // Warm-up: every cell once, untimed (JIT, connections, SQLite pages).
    for (const c of cells) for (const op of OPS) await measure(WARM_UP, c.ops[op]);
    const results = new Map<string, number[]>();
    const resultOf = (done: number): BenchResult => {
      const figures: Figure[] = [];
      const LABEL: Record<Op, string> = { info: "GetRelayInfo/s (no storage)", sends: "sealed sends/s", posts: "room posts/s" };
      for (const c of cells) {
        const ceiling = median(results.get(`${c.name}/info`) ?? []);
        for (const op of OPS) {
          const xs = results.get(`${c.name}/${op}`) ?? [];
          const s = spread(xs);
          figures.push({
            name: `${c.name}: ${LABEL[op]}`,
            value: median(xs),
            unit: "ops/s",
            note: `median of ${xs.length}, ${formatNumber(s.min)}–${formatNumber(s.max)}`,
            ...(op === "info" ? {} : { reference: { label: `${c.name} GetRelayInfo`, value: ceiling, unit: "ops/s" } }),
          });
        }
      }
      return {
        benchmark: "relay throughput",
        setup: `${count} operations per cell, ${concurrency} in flight, ${bytes}-byte envelopes, relay (SQLite) in its own process, ${WARM_UP}-operation warm-up per cell, ${done} of ${repeats} interleaved repeats; no goal is set for these figures (issue 15 asks only for honest ones)`,
        figures,
        series: [],
      };
    };
    for (let r = 0; r < repeats; r++) {
      for (const c of r % 2 === 0 ? cells : [...cells].reverse()) {
        const line: string[] = [];
        for (const op of OPS) {
          const rate = await measure(count, c.ops[op]);
          results.set(`${c.name}/${op}`, [...(results.get(`${c.name}/${op}`) ?? []), rate]);
          line.push(`${op} ${formatNumber(rate)}/s`);
        }
        console.log(`repeat ${r + 1} ${c.name.padEnd(18)} ${line.join("  ")}`);
      }
      // Kept after each repeat, so a run stopped at its time limit still reports.
      writeResultFile(resultOf(r + 1));
    }
    finishReport(resultOf(repeats));
  } finally {
    await host.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : "benchmark failed");
    process.exit(1);
  },
);
