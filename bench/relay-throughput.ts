// Benchmark (a script, not a test): sealed sends and room posts per second against a local
// relay (real openRelay with SQLite in a temp dir, real server on a free port), over
// Connect on HTTP/1.1 and HTTP/2, gRPC on h2c and gRPC-Web on HTTP/1.1.
//
// Owns: the measurement loops and the printed table. Loops are bounded by --count; rate
// limits are raised for the run so the relay's limits, not the transport, are what would
// show up if they were hit.
//
//   node --import tsx bench/relay-throughput.ts [--count N] [--concurrency C] [--bytes B]
//   npm run bench:relay-throughput -- --count 5000

import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createIdentityKeyPair } from "../client/keys/identity.js";
import { AccountService } from "../gen/securecomm/relay/v1/account_pb.js";
import { MessageService } from "../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../gen/securecomm/relay/v1/relay_info_pb.js";
import { RoomService } from "../gen/securecomm/relay/v1/rooms_pb.js";
import { startRelayServer } from "../relay/server.js";
import { openRelay } from "../relay/services/index.js";

/** Default operations per transport and kind: a few seconds each on a 2-core machine. */
const DEFAULT_COUNT = 2000;
/** Default requests in flight at once per transport. */
const DEFAULT_CONCURRENCY = 32;
/** Default envelope size: a padded text message in a sealed-sender envelope is a few hundred bytes. */
const DEFAULT_BYTES = 300;
/** Upper bound on --count, so a typo cannot run for an hour. */
const MAX_COUNT = 100_000;

interface Options {
  count: number;
  concurrency: number;
  bytes: number;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { count: DEFAULT_COUNT, concurrency: DEFAULT_CONCURRENCY, bytes: DEFAULT_BYTES };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${String(flag)} needs a positive integer`);
    if (flag === "--count") options.count = Math.min(value, MAX_COUNT);
    else if (flag === "--concurrency") options.concurrency = value;
    else if (flag === "--bytes") options.bytes = value;
    else throw new RangeError(`unknown option ${String(flag)}`);
  }
  return options;
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

/** Runs `count` calls of `op` with `concurrency` in flight; returns operations per second. */
async function measure(count: number, concurrency: number, op: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        await op();
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dataDir = await mkdtemp(join(tmpdir(), "securecomm-bench-"));
  const transportsCount = 4;
  const relay = await openRelay({
    dataDir,
    logLevel: "silent",
    limits: {
      maxSendsPerMailboxPerMinute: 10_000_000,
      maxRoomPostsPerMinute: 10_000_000,
      maxMailboxEnvelopes: options.count * transportsCount + 1,
      maxRoomLogEnvelopes: options.count * transportsCount + 1,
    },
  });
  const server = await startRelayServer({ relay, host: "127.0.0.1", port: 0 });
  try {
    const setup = createConnectTransport({ baseUrl: server.url, httpVersion: "2" });
    const accounts = createClient(AccountService, setup);
    const identity = createIdentityKeyPair();
    const identityKey = identity.publicKey.serialize();
    const { challenge } = await accounts.createChallenge({ identityKey });
    const label = new TextEncoder().encode("SecureComm relay auth v1");
    const signed = new Uint8Array([...label, ...challenge, ...identityKey]);
    const proof = await accounts.proveIdentity({
      identityKey,
      challenge,
      signature: identity.privateKey.sign(signed),
      registrationId: identity.registrationId,
    });
    const headers = { authorization: `Bearer ${Buffer.from(proof.token).toString("base64url")}` };
    const deliveryToken = random(32);
    await accounts.setDeliveryToken({ deliveryTokenHash: sha256(deliveryToken) }, { headers });
    const roomId = random(16);
    const accessKey = random(32);
    await createClient(RoomService, setup).createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers });
    const envelope = random(options.bytes);

    const transports: [string, Transport][] = [
      ["Connect HTTP/1.1", createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })],
      ["Connect HTTP/2", createConnectTransport({ baseUrl: server.url, httpVersion: "2" })],
      ["gRPC h2c", createGrpcTransport({ baseUrl: server.url })],
      ["gRPC-Web HTTP/1.1", createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" })],
    ];
    console.log(
      `relay throughput: ${options.count} ops per cell, ${options.concurrency} in flight, ${options.bytes}-byte envelopes, SQLite in a temp dir`,
    );
    // RelayInfo touches no storage: it is the transport's own ceiling in the same run.
    console.log("| transport | GetRelayInfo/s (no storage) | sealed sends/s | room posts/s |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const [name, transport] of transports) {
      const messages = createClient(MessageService, transport);
      const rooms = createClient(RoomService, transport);
      const info = createClient(RelayInfoService, transport);
      const baseline = await measure(options.count, options.concurrency, () => info.getRelayInfo({}));
      const sends = await measure(options.count, options.concurrency, () =>
        messages.sendSealed({ recipientAddress: proof.address, deliveryToken, envelope }),
      );
      const posts = await measure(options.count, options.concurrency, () =>
        rooms.postToRoom({ roomId, accessKey, envelope }),
      );
      console.log(`| ${name} | ${baseline.toFixed(0)} | ${sends.toFixed(0)} | ${posts.toFixed(0)} |`);
    }
  } finally {
    await server.close();
    await relay.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : "benchmark failed");
  process.exit(1);
});
