// The benchmark baseline: a bare, in-memory Connect fan-out server speaking the relay's own
// RoomService.PostToRoom and MessageService.Subscribe, with no authentication, no storage and
// no limits. bench/relay-fanout.ts measures it next to the real relay in the same run, so the
// relay's figures can be read as a fraction of what Connect on Node does on this machine.
//
// Owns: nothing the relay uses; a script only.
//   node --import tsx bench/relay-baseline.ts [--port N] [--coalesce|--no-coalesce]
// Prints one line "baseline listening on URL".

import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  MessageService,
  RoomEventSchema,
  SubscribeResponseSchema,
  type RoomEvent,
  type SubscribeResponse,
} from "../gen/securecomm/relay/v1/messages_pb.js";
import { RoomService } from "../gen/securecomm/relay/v1/rooms_pb.js";

/** Most events put into one stream message when coalescing (the relay's default is 256). */
const MAX_COALESCED = 256;

interface Subscriber {
  queue: RoomEvent[];
  wake: (() => void) | undefined;
}

function main(): void {
  const args = process.argv.slice(2);
  const portIndex = args.indexOf("--port");
  const port = portIndex >= 0 ? Number(args[portIndex + 1]) : 0;
  const coalesce = !args.includes("--no-coalesce");
  const rooms = new Map<string, { seq: bigint; subscribers: Set<Subscriber> }>();
  const room = (id: Uint8Array) => {
    const key = Buffer.from(id).toString("hex");
    let r = rooms.get(key);
    if (!r) rooms.set(key, (r = { seq: 0n, subscribers: new Set() }));
    return r;
  };

  const handler = connectNodeAdapter({
    routes(router) {
      router.service(RoomService, {
        postToRoom(req) {
          const r = room(req.roomId);
          r.seq += 1n;
          const event = create(RoomEventSchema, { seq: r.seq, postedAtMs: BigInt(Date.now()), envelope: req.envelope });
          for (const s of r.subscribers) {
            s.queue.push(event);
            s.wake?.();
          }
          return { seq: r.seq, postedAtMs: event.postedAtMs };
        },
      });
      router.service(MessageService, {
        async *subscribe(req, context): AsyncGenerator<SubscribeResponse> {
          const sub: Subscriber = { queue: [], wake: undefined };
          const joined = req.rooms.map((c) => ({ id: c.roomId, r: room(c.roomId) }));
          for (const j of joined) j.r.subscribers.add(sub);
          const onAbort = (): void => sub.wake?.();
          context.signal.addEventListener("abort", onAbort, { once: true });
          try {
            yield create(SubscribeResponseSchema, { event: { case: "caughtUp", value: {} } });
            while (!context.signal.aborted) {
              if (sub.queue.length === 0) {
                await new Promise<void>((resolve) => {
                  sub.wake = resolve;
                });
                sub.wake = undefined;
                continue;
              }
              const take = coalesce ? sub.queue.splice(0, MAX_COALESCED) : sub.queue.splice(0, 1);
              yield create(SubscribeResponseSchema, {
                event: { case: "room", value: { roomId: joined[0]?.id ?? new Uint8Array(16), events: take } },
              });
            }
          } finally {
            context.signal.removeEventListener("abort", onAbort);
            for (const j of joined) j.r.subscribers.delete(sub);
          }
        },
      });
    },
  });
  const server = http2.createServer({}, handler);
  server.listen(port, "127.0.0.1", () => {
    const bound = (server.address() as AddressInfo).port;
    process.stdout.write(`baseline listening on http://127.0.0.1:${bound}\n`);
  });
  const stop = (): void => {
    server.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
