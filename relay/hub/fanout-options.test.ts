// Over a real HTTP/2 connection on loopback: a Subscribe client that accepts gzip (as Connect
// clients do by default) receives its large coalesced room batches uncompressed.
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { SubscribeRequestSchema, SubscribeResponseSchema, type SubscribeResponse } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { sha256 } from "../auth.js";
import { startRelayServer, type RelayServer } from "../server.js";
import { openHarness, randomId, randomKey, registerAccount, type Harness } from "../services/harness.test-support.js";

let h: Harness | undefined;
let server: RelayServer | undefined;
let session: http2.ClientHttp2Session | undefined;
afterEach(async () => {
  session?.destroy();
  await server?.close();
  await h?.close();
  session = server = h = undefined;
});

/** Splits Connect envelopes (flags byte, 4-byte length, data) out of `buf`. */
function envelopes(buf: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  for (let at = 0; at + 5 <= buf.length; ) {
    const len = buf.readUInt32BE(at + 1);
    if (at + 5 + len > buf.length) break;
    out.push({ flags: buf[at] ?? 0, data: buf.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

describe("fan-out responses are not compressed (relay/hub/fanout-options.ts)", () => {
  it("a client accepting gzip gets a 4 KB room batch as a plain envelope that decodes to the posted events", async () => {
    h = await openHarness();
    const owner = await registerAccount(h);
    const roomId = randomId();
    const accessKey = randomKey();
    await h.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: owner.headers });
    // Posted before subscribing: the backlog is coalesced into one batch over 1 KiB.
    const sent = [] as Uint8Array[];
    for (let i = 0; i < 4; i++) {
      const envelope = new Uint8Array(1000).fill(0x41); // compressible, so gzip would shrink it
      envelope[0] = i;
      sent.push(envelope);
      await h.rooms.postToRoom({ roomId, accessKey, envelope });
    }
    server = await startRelayServer({ relay: h.relay, port: 0 });
    session = http2.connect(server.url);
    const body = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { rooms: [{ roomId, accessKey, afterSeq: 0n }] }));
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    const req = session.request({
      ":method": "POST",
      ":path": "/securecomm.relay.v1.MessageService/Subscribe",
      "content-type": "application/connect+proto",
      "connect-protocol-version": "1",
      "connect-accept-encoding": "gzip",
      authorization: owner.headers.authorization,
    });
    req.end(frame);
    let received = Buffer.alloc(0);
    const messages = await new Promise<{ flags: number; data: Buffer }[]>((resolve, reject) => {
      req.on("data", (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const got = envelopes(received);
        const caughtUp = got.some((e) => e.flags === 0 && fromBinary(SubscribeResponseSchema, e.data).event.case === "caughtUp");
        if (caughtUp) resolve(got);
      });
      req.on("error", reject);
      req.on("end", () => reject(new Error("stream ended before CaughtUp")));
    });
    req.close();
    // Flag 0x01 would mean a compressed message.
    expect(messages.map((e) => e.flags)).toEqual(messages.map(() => 0));
    const decoded: SubscribeResponse[] = messages.map((e) => fromBinary(SubscribeResponseSchema, e.data));
    const batch = decoded.find((m) => m.event.case === "room");
    expect(batch?.event.case === "room" && batch.event.value.events.map((e) => new Uint8Array(e.envelope))).toEqual(sent);
    expect(messages.find((_, i) => decoded[i]?.event.case === "room")?.data.length).toBeGreaterThan(4000);
  });
});
