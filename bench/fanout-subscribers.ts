// The subscribers of bench/relay-fanout.ts, in their own process so the publisher's CPU and
// theirs are not one event loop: opens Subscribe streams to a server under test, counts
// deliveries and measures post → delivery latency from the wall-clock time the publisher
// wrote into each envelope's first 8 bytes.
//
// Owns: the streams and their counters. Driven over the IPC channel by the benchmark with
// `SubscriberRequest`s, each answered by one `SubscriberReply` carrying the same id. Forked
// only by bench/relay-fanout.ts; exits when the channel closes.

import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { MessageService } from "../gen/securecomm/relay/v1/messages_pb.js";
import { percentile } from "./stats.js";

/** Streams per HTTP/2 connection: Node clients assume 100 until the server says otherwise. */
export const STREAMS_PER_CONNECTION = 100;
/** Streams opened at once (each waits for its caught-up marker before the next batch). */
const OPEN_BATCH = 1000;

/** A room to follow, as hex. */
export interface RoomRef {
  roomId: string;
  accessKey: string;
  /** Deliver only events after this sequence number (decimal), as a client that is caught up. */
  afterSeq?: string;
}

/** What the benchmark asks. */
export type SubscriberRequest = { id: number } & (
  | {
      type: "open";
      url: string;
      headers: Record<string, string>;
      /** Every stream follows rooms[0]; with more rooms, stream i also follows rooms[1 + i % (n − 1)]. */
      rooms: RoomRef[];
      streams: number;
    }
  /** Starts counting deliveries from zero toward `count`; answered at once. */
  | { type: "arm"; count: number; deadlineMs: number }
  /** Answered when the armed count is reached or its deadline passed. */
  | { type: "wait" }
  | { type: "latency-start" }
  | { type: "latency-stop" }
  | { type: "close" }
);

/** What it answers. Times are wall-clock milliseconds (performance.timeOrigin + now). */
export interface SubscriberReply {
  id: number;
  opened?: number;
  cutOff?: number;
  reached?: boolean;
  delivered?: number;
  atMs?: number;
  samples?: number;
  p50?: number;
  p99?: number;
  firstAtMs?: number;
  lastAtMs?: number;
}

const wallClock = (): number => performance.timeOrigin + performance.now();
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

let abort = new AbortController();
let delivered = 0;
let cutOff = 0;
let target = Number.POSITIVE_INFINITY;
let reached: (() => void) | undefined;
let latencies: number[] | undefined;
let firstAtMs = 0;
let lastAtMs = 0;

function onEvents(envelopes: readonly Uint8Array[]): void {
  const now = wallClock();
  if (latencies) {
    for (const e of envelopes) latencies.push(now - new DataView(e.buffer, e.byteOffset, 8).getFloat64(0));
    if (firstAtMs === 0) firstAtMs = now;
    lastAtMs = now;
  }
  delivered += envelopes.length;
  if (delivered >= target) reached?.();
}

async function open(url: string, headers: Record<string, string>, rooms: RoomRef[], n: number): Promise<number> {
  const signal = abort.signal;
  // One signal ends every stream: thousands of listeners are intended.
  setMaxListeners(0, signal);
  const refs = rooms.map((r) => ({ roomId: hex(r.roomId), accessKey: hex(r.accessKey), afterSeq: BigInt(r.afterSeq ?? "0") }));
  let transport: Transport | undefined;
  let opened = 0;
  for (let batch = 0; batch < n; batch += OPEN_BATCH) {
    const caughtUp: Promise<boolean>[] = [];
    for (let i = batch; i < Math.min(n, batch + OPEN_BATCH); i++) {
      if (i % STREAMS_PER_CONNECTION === 0) transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
      const client = createClient(MessageService, transport!);
      const follow = refs.length > 1 ? [refs[0]!, refs[1 + (i % (refs.length - 1))]!] : refs;
      caughtUp.push(
        new Promise<boolean>((resolve) => {
          void (async () => {
            try {
              for await (const res of client.subscribe({ rooms: follow }, { headers, signal })) {
                if (res.event.case === "caughtUp") resolve(true);
                else if (res.event.case === "room") onEvents(res.event.value.events.map((e) => e.envelope));
              }
            } catch {
              if (!signal.aborted) cutOff++;
            }
            resolve(false);
          })();
        }),
      );
    }
    opened += (await Promise.all(caughtUp)).filter(Boolean).length;
  }
  return opened;
}

let armed: Promise<SubscriberReply> | undefined;

function arm(count: number, deadlineMs: number): Promise<SubscriberReply> {
  delivered = 0;
  target = count;
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      reached = undefined;
      target = Number.POSITIVE_INFINITY;
      resolve({ id: 0, reached: ok, delivered, atMs: wallClock(), cutOff });
    };
    const timer = setTimeout(() => finish(false), deadlineMs);
    reached = () => finish(true);
    if (delivered >= count) finish(true);
  });
}

async function handle(req: SubscriberRequest): Promise<SubscriberReply> {
  switch (req.type) {
    case "open":
      return { id: req.id, opened: await open(req.url, req.headers, req.rooms, req.streams), cutOff };
    case "arm":
      armed = arm(req.count, req.deadlineMs);
      return { id: req.id };
    case "wait":
      return { ...(await (armed ?? Promise.resolve({ id: 0, reached: false }))), id: req.id };
    case "latency-start":
      latencies = [];
      firstAtMs = 0;
      lastAtMs = 0;
      delivered = 0;
      return { id: req.id };
    case "latency-stop": {
      const samples = latencies ?? [];
      latencies = undefined;
      return { id: req.id, samples: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), firstAtMs, lastAtMs, delivered };
    }
    case "close":
      abort.abort();
      abort = new AbortController();
      // Let the resets go out before answering, so the server sees the streams closed.
      await new Promise((r) => setTimeout(r, 200));
      return { id: req.id, cutOff };
  }
}

if (typeof process.send !== "function") {
  process.stderr.write("bench/fanout-subscribers.ts is forked by bench/relay-fanout.ts\n");
  process.exit(2);
}
process.on("message", (req: SubscriberRequest) => {
  void handle(req).then((reply) => process.send?.(reply));
});
process.on("disconnect", () => process.exit(0));
