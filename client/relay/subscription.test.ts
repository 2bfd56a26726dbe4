/**
 * The Subscribe loop against an in-memory MessageService (API-11, API-14): reconnects with
 * backoff after failures, hands events over in order, acknowledges mailbox envelopes only
 * after the handler committed them, and resubscribes with fresh cursors.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AccountService } from "../../gen/securecomm/relay/v1/account_pb.js";
import { KeyService } from "../../gen/securecomm/relay/v1/keys_pb.js";
import {
  MessageService,
  type SubscribeRequest,
  SubscribeResponseSchema,
  type SubscribeResponse,
} from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../../gen/securecomm/relay/v1/relay_info_pb.js";
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
    const clients: RelayClients = {
      account: createClient(AccountService, transport),
      keys: createClient(KeyService, transport),
      messages: createClient(MessageService, transport),
      rooms: createClient(RoomService, transport),
      info: createClient(RelayInfoService, transport),
    };
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
    const clients: RelayClients = {
      account: createClient(AccountService, transport),
      keys: createClient(KeyService, transport),
      messages: createClient(MessageService, transport),
      rooms: createClient(RoomService, transport),
      info: createClient(RelayInfoService, transport),
    };
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
