// The benchmark's ceiling: a bare `node:http2` server that speaks just enough of the Connect
// protocol for RoomService.PostToRoom (unary, application/proto) and MessageService.Subscribe
// (server streaming, application/connect+proto), with no framework, no authentication, no
// storage and no limits. Each post is encoded once into one Connect frame and the same bytes
// are written to every subscribed stream. bench/relay-fanout.ts measures it beside the bare
// Connect server (bench/relay-baseline.ts) and the relay in the same run: what HTTP/2 on Node
// can do on this machine, so no relay figure can honestly exceed it.
//
// Owns: nothing the relay uses; a script only.
//   node --import tsx bench/relay-ceiling.ts [--port N]
// Prints one line "ceiling listening on URL".

import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { SubscribeRequestSchema, SubscribeResponseSchema } from "../gen/securecomm/relay/v1/messages_pb.js";
import { PostToRoomRequestSchema, PostToRoomResponseSchema } from "../gen/securecomm/relay/v1/rooms_pb.js";

/** Connect's envelope flag for the end-of-stream message (connect protocol, streaming). */
const END_STREAM_FLAG = 0b10;
/** Largest request body accepted (a Subscribe or a post is a few hundred bytes). */
const MAX_REQUEST_BYTES = 1 << 20;

/** One Connect frame: flags, big-endian length, message. */
function frame(flags: number, message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

const CAUGHT_UP = frame(0, toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { event: { case: "caughtUp", value: {} } })));
const END_STREAM = frame(END_STREAM_FLAG, new TextEncoder().encode("{}"));

function readBody(stream: http2.ServerHttp2Stream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST_BYTES) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else chunks.push(c);
    });
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", reject);
  });
}

function main(): void {
  const args = process.argv.slice(2);
  const portIndex = args.indexOf("--port");
  const port = portIndex >= 0 ? Number(args[portIndex + 1]) : 0;
  const rooms = new Map<string, { seq: bigint; streams: Set<http2.ServerHttp2Stream> }>();
  const room = (id: Uint8Array) => {
    const key = Buffer.from(id).toString("hex");
    let r = rooms.get(key);
    if (!r) rooms.set(key, (r = { seq: 0n, streams: new Set() }));
    return r;
  };

  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    const path = headers[":path"];
    stream.on("error", () => undefined);
    void readBody(stream).then(
      (body) => {
        if (path === "/securecomm.relay.v1.RoomService/PostToRoom") {
          const req = fromBinary(PostToRoomRequestSchema, body);
          const r = room(req.roomId);
          r.seq += 1n;
          const postedAtMs = BigInt(Date.now());
          // Encoded once; the same buffer goes to every subscriber.
          const event = frame(
            0,
            toBinary(
              SubscribeResponseSchema,
              create(SubscribeResponseSchema, {
                event: { case: "room", value: { roomId: req.roomId, events: [{ seq: r.seq, postedAtMs, envelope: req.envelope }] } },
              }),
            ),
          );
          for (const s of r.streams) if (!s.closed && !s.destroyed) s.write(event);
          stream.respond({ ":status": 200, "content-type": "application/proto" });
          stream.end(toBinary(PostToRoomResponseSchema, create(PostToRoomResponseSchema, { seq: r.seq, postedAtMs })));
        } else if (path === "/securecomm.relay.v1.MessageService/Subscribe") {
          // The request is one Connect frame: skip its 5-byte prefix.
          const req = fromBinary(SubscribeRequestSchema, body.subarray(5));
          const joined = req.rooms.map((c) => room(c.roomId));
          stream.respond({ ":status": 200, "content-type": "application/connect+proto" });
          stream.write(CAUGHT_UP);
          for (const r of joined) r.streams.add(stream);
          stream.once("close", () => {
            for (const r of joined) r.streams.delete(stream);
          });
        } else {
          stream.respond({ ":status": 404 });
          stream.end();
        }
      },
      () => stream.destroy(),
    );
  });
  server.listen(port, "127.0.0.1", () => {
    const bound = (server.address() as AddressInfo).port;
    process.stdout.write(`ceiling listening on http://127.0.0.1:${bound}\n`);
  });
  const stop = (): void => {
    for (const r of rooms.values()) for (const s of r.streams) if (!s.closed) s.end(END_STREAM);
    server.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
