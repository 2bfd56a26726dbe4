/**
 * The Subscribe loop against an in-memory MessageService (API-11, API-14): reconnects with
 * backoff after failures, hands events over in order, acknowledges mailbox envelopes only
 * after the handler committed them, and resubscribes with fresh cursors.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Transport } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AccountService } from "../../gen/securecomm/relay/v1/account_pb.js";
import { KeyService } from "../../gen/securecomm/relay/v1/keys_pb.js";
import {
  MessageService,
  type SubscribeRequest,
  SubscribeResponseSchema,
  type SubscribeResponse,
} from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../../gen/securecomm/relay/v1/relay_info_pb.js";
import { BlobService } from "../../gen/securecomm/relay/v1/blobs_pb.js";
import { RoomService } from "../../gen/securecomm/relay/v1/rooms_pb.js";
import type { RelayClients } from "./relay-clients.js";
import { type StreamState, Subscription } from "./subscription.js";

function mailbox(ids: number[]): SubscribeResponse {
  return create(SubscribeResponseSchema, {
    event: { case: "mailbox", value: { envelopes: ids.map((id) => ({ id: BigInt(id), storedAtMs: 1n, envelope: new Uint8Array([id]) })) } },
  });
}
const caughtUp = create(SubscribeResponseSchema, { event: { case: "caughtUp", value: {} } });

describe("Subscription", () => {
  it("API-11 API-14: retries with backoff, processes in order, acks only committed ids, resubscribes with fresh cursors", async () => {
    const requests: SubscribeRequest[] = [];
    const acked: bigint[][] = [];
    let calls = 0;
    let release: () => void = () => {};
    const transport = createRouterTransport((router) =>
      router.service(MessageService, {
        async *subscribe(req) {
          requests.push(req);
          calls++;
          if (calls === 1) throw new ConnectError("down", Code.Unavailable);
          yield mailbox([1, 2]);
          yield mailbox([2, 3]); // redelivery of 2 (at-least-once)
          yield caughtUp;
          await new Promise<void>((r) => (release = r));
        },
        async ackMessages(req) {
          acked.push(req.ids);
          return {};
        },
        async sendSealed() {
          return {};
        },
      }),
    );
    const clients = clientsOver(transport);
    const seen: bigint[] = [];
    const committed = new Set<bigint>();
    const states: StreamState[] = [];
    const delays: number[] = [];
    let cursor = 0n;
    const sub = new Subscription({
      clients,
      random: () => 0,
      sleep: async (ms) => void delays.push(ms),
      handler: {
        cursors: () => [{ roomId: new Uint8Array(16), accessKey: new Uint8Array(32), afterSeq: cursor }],
        beforeConnect: async () => {},
        onMailbox: async (envs) => {
          const ids: bigint[] = [];
          for (const e of envs) {
            seen.push(e.id);
            if (e.id === 3n) continue; // pretend 3 failed to commit: it must not be acked
            committed.add(e.id);
            ids.push(e.id);
          }
          return ids;
        },
        onRoomEvents: async () => {},
        onRoomClosed: async () => {},
        onCaughtUp: () => {},
        onPreKeysLow: () => {},
        onState: (s) => states.push(s),
      },
    });
    sub.start();
    await expect.poll(() => sub.state, { timeout: 5000 }).toBe("online");
    expect(delays).toEqual([125]); // one failed attempt, then a jittered wait (base/2 with r = 0)
    expect(seen).toEqual([1n, 2n, 2n, 3n]);
    expect(acked).toEqual([[1n, 2n], [2n]]);
    cursor = 7n;
    sub.resubscribe();
    await expect.poll(() => requests.length, { timeout: 5000 }).toBe(3);
    expect(requests[2]!.rooms[0]!.afterSeq).toBe(7n);
    release();
    await sub.stop();
    expect(sub.state).toBe("offline");
    expect(states[0]).toBe("connecting");
  });
});

describe("Subscription backoff after a healthy stream breaks (issue 16)", () => {
  it("DL-05 API-11: a stream that reached CaughtUp and then broke starts the next outage from the shortest delay, however many outages came before", async () => {
    // Each "outage": two refused connects, then a stream that catches up and breaks (a relay
    // killed mid-stream), never ending cleanly.
    const script: Array<"refuse" | "healthy-then-break"> = [];
    for (let i = 0; i < 4; i++) script.push("refuse", "refuse", "healthy-then-break");
    let call = 0;
    let parked: () => void = () => {};
    const transport = createRouterTransport((router) =>
      router.service(MessageService, {
        async *subscribe() {
          const step = script[call++];
          if (step === undefined) {
            yield caughtUp;
            await new Promise<void>((r) => (parked = r));
            return;
          }
          if (step === "refuse") throw new ConnectError("connection refused", Code.Unavailable);
          yield caughtUp;
          throw new ConnectError("socket hang up", Code.Unavailable);
        },
        async ackMessages() {
          return {};
        },
        async sendSealed() {
          return {};
        },
      }),
    );
    const clients = clientsOver(transport);
    const delays: number[] = [];
    const sub = new Subscription({
      clients,
      random: () => 0,
      sleep: async (ms) => void delays.push(ms),
      handler: {
        cursors: () => [],
        beforeConnect: async () => {},
        onMailbox: async () => [],
        onRoomEvents: async () => {},
        onRoomClosed: async () => {},
        onCaughtUp: () => {},
        onPreKeysLow: () => {},
        onState: () => {},
      },
    });
    sub.start();
    await expect.poll(() => call, { timeout: 5000 }).toBe(script.length + 1);
    await expect.poll(() => sub.stats.healthyStreams, { timeout: 5000 }).toBe(5);
    // After each break the waits start again at 125 ms (base/2 · 2^n with r = 0): 125 after the
    // break, then 250 and 500 for the two refused connects; the same for every outage.
    expect(delays).toEqual([125, 250, 125, 250, 500, 125, 250, 500, 125, 250, 500, 125]);
    expect(sub.stats.attemptsBeforeHealthy).toEqual([2, 2, 2, 2, 0]);
    expect(sub.stats.backoffAtHealthy).toEqual([2, 3, 3, 3, 1]);
    expect(sub.stats.backoffAttempt).toBe(0);
    parked();
    await sub.stop();
  });
});

/** Clients over an in-memory MessageService whose `subscribe` is `subscribe`. */
function memoryClients(subscribe: (req: SubscribeRequest) => AsyncIterable<SubscribeResponse>): RelayClients {
  const transport = createRouterTransport((router) =>
    router.service(MessageService, {
      subscribe,
      async ackMessages() {
        return {};
      },
      async sendSealed() {
        return {};
      },
    }),
  );
  return clientsOver(transport);
}

/** Every relay client over one (in-memory) transport. */
function clientsOver(transport: Transport): RelayClients {
  return {
    account: createClient(AccountService, transport),
    keys: createClient(KeyService, transport),
    messages: createClient(MessageService, transport),
    rooms: createClient(RoomService, transport),
    blobs: createClient(BlobService, transport),
    info: createClient(RelayInfoService, transport),
  };
}

const quietHandler = {
  cursors: () => [],
  beforeConnect: async () => {},
  onMailbox: async () => [],
  onRoomEvents: async () => {},
  onRoomClosed: async () => {},
  onCaughtUp: () => {},
  onPreKeysLow: () => {},
  onState: () => {},
};

describe("Subscription stops promptly (DL-06)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("DL-06: stop() during a backoff wait ends the wait at once (no timer left pending, the delay never elapses)", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const clients = memoryClients(async function* () {
      calls++;
      yield* [];
      throw new ConnectError("down", Code.Unavailable);
    });
    // random = 1: the longest jittered wait, so the first backoff is a real pending timer.
    const sub = new Subscription({ clients, random: () => 0.999, handler: quietHandler });
    sub.start();
    await vi.waitFor(() => expect(sub.stats.failedAttempts).toBe(1));
    // The loop is now asleep in its backoff: exactly one timer (the wait) is pending.
    await vi.waitFor(() => expect(vi.getTimerCount()).toBe(1));
    let stopped = false;
    const stopping = sub.stop().then(() => (stopped = true));
    // Fake time never advances: only the abort can end the wait.
    for (let i = 0; i < 50 && !stopped; i++) await Promise.resolve();
    await stopping;
    expect(stopped).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(calls).toBe(1);
    expect(sub.state).toBe("offline");
  });

  it("DL-06: stop() while beforeConnect is running opens no stream (it would otherwise wait for the relay's next keep-alive)", async () => {
    let opened = 0;
    let closedByAbort = 0;
    const clients = memoryClients(async function* (_req) {
      opened++;
      try {
        // A stream with nothing to say until the next keep-alive (15 s at a real relay): never, here.
        await new Promise<void>(() => {});
        yield caughtUp;
      } finally {
        closedByAbort++;
      }
    });
    let inBeforeConnect: () => void = () => {};
    const entered = new Promise<void>((r) => (inBeforeConnect = r));
    let finishBeforeConnect: () => void = () => {};
    const sub = new Subscription({
      clients,
      random: () => 0,
      handler: {
        ...quietHandler,
        beforeConnect: () =>
          new Promise<void>((r) => {
            finishBeforeConnect = r;
            inBeforeConnect();
          }),
      },
    });
    sub.start();
    await entered;
    const stopping = sub.stop();
    finishBeforeConnect();
    await stopping; // without the fix this never resolves: the new stream waits for a message
    expect(sub.state).toBe("offline");
    expect(opened).toBe(0);
    expect(closedByAbort).toBe(0);
  });
});

describe("Subscription passes PreKeysLow on (API-29)", () => {
  it("API-29: a PreKeysLow event reaches the handler with its handout_limited flag, in stream order", async () => {
    const low = (handoutLimited: boolean) =>
      create(SubscribeResponseSchema, { event: { case: "preKeysLow", value: { handoutLimited } } });
    let park: () => void = () => {};
    const clients = memoryClients(async function* () {
      yield low(false);
      yield caughtUp;
      yield low(true);
      await new Promise<void>((r) => (park = r));
    });
    const seen: string[] = [];
    const sub = new Subscription({
      clients,
      random: () => 0,
      handler: { ...quietHandler, onCaughtUp: () => void seen.push("caughtUp"), onPreKeysLow: (l) => void seen.push(`low:${l}`) },
    });
    sub.start();
    await expect.poll(() => seen.length, { timeout: 5000 }).toBe(3);
    expect(seen).toEqual(["low:false", "caughtUp", "low:true"]);
    park();
    await sub.stop();
  });
});

describe("Subscription acknowledgements beside the stream (API-14, issue 14)", () => {
  it("the next batch is processed while an ack is in flight; a failed ack reconnects and the envelope comes again and is acked", async () => {
    const acked: bigint[][] = [];
    let ackCalls = 0;
    let releaseFirstAck: () => void = () => {};
    let streams = 0;
    const seen: bigint[] = [];
    let secondSeenWhileAckPending = false;
    let firstAckPending = false;
    const transport = createRouterTransport((router) =>
      router.service(MessageService, {
        async *subscribe() {
          streams++;
          if (streams === 1) {
            yield mailbox([1]);
            yield mailbox([2]);
            yield caughtUp;
            await new Promise<void>(() => undefined); // until aborted
          }
          yield mailbox([2]); // the failed ack's id, delivered again
          yield caughtUp;
          await new Promise<void>(() => undefined);
        },
        async ackMessages(req) {
          ackCalls++;
          if (ackCalls === 1) {
            firstAckPending = true;
            await new Promise<void>((r) => (releaseFirstAck = r));
            firstAckPending = false;
            acked.push(req.ids);
            return {};
          }
          if (ackCalls === 2) throw new ConnectError("down", Code.Unavailable);
          acked.push(req.ids);
          return {};
        },
      }),
    );
    const clients = clientsOver(transport);
    const sub = new Subscription({
      clients,
      random: () => 0,
      sleep: async () => undefined,
      handler: {
        ...quietHandler,
        onMailbox: async (envs) => {
          for (const e of envs) {
            seen.push(e.id);
            if (e.id === 2n && firstAckPending) secondSeenWhileAckPending = true;
          }
          return envs.map((e) => e.id);
        },
      },
    });
    sub.start();
    await expect.poll(() => seen.length, { timeout: 5000 }).toBe(2);
    expect(secondSeenWhileAckPending).toBe(true); // not held up by the first ack's round trip
    releaseFirstAck();
    // The second ack fails: the stream ends and a new one delivers 2 again, which is acked.
    await expect.poll(() => acked, { timeout: 5000 }).toEqual([[1n], [2n]]);
    expect(streams).toBe(2);
    expect(seen).toEqual([1n, 2n, 2n]);
    await sub.stop();
  });
});
