// A client that stops reading its Subscribe stream and then goes away, against a real relay
// over real sockets (relay/orphaned-write.ts). The relay's write then waits on a full socket
// or an exhausted HTTP/2 window; before the fix the client's disconnect never reached the
// stream, which stayed open at the relay for good (hub membership, metrics, one of the
// account's streams). Seen first as a third open stream in web/e2e/one-active-tab.test.ts.

import * as http2 from "node:http2";
import * as net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SubscribeRequestSchema } from "../gen/securecomm/relay/v1/messages_pb.js";
import { sha256 } from "./auth.js";
import { clientsFor, randomId, randomKey, registerAccount, type TestAccount } from "./services/harness.test-support.js";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

/** Room backlog far beyond what loopback socket buffers and an HTTP/2 window hold. */
const BACKLOG_ENVELOPES = 120;
const ENVELOPE_BYTES = 60_000;
/** How long the client keeps the stream open without reading, so the relay's writes stall. */
const STALL_MS = 1_000;
/** Liveness bound for the relay to notice (the fix takes milliseconds; the bug never ends). */
const NOTICE_WITHIN_MS = 10_000;
const SUBSCRIBE_PATH = "/securecomm.relay.v1.MessageService/Subscribe";

let relay: TestRelay;
let account: TestAccount;
let body: Buffer;

function openStreams(): number {
  const text = relay.relay.renderMetrics();
  const sum = (metric: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  return sum("securecomm_relay_streams_opened_total") - sum("securecomm_relay_streams_closed_total");
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + NOTICE_WITHIN_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what} (open streams: ${openStreams()})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeEach(async () => {
  relay = await startTestRelay();
  const clients = clientsFor(createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1" }));
  account = await registerAccount(clients);
  const roomId = randomId();
  const accessKey = randomKey();
  await clients.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: account.headers });
  for (let i = 0; i < BACKLOG_ENVELOPES; i++) {
    await clients.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array(ENVELOPE_BYTES).fill(i & 0xff) });
  }
  const request = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { rooms: [{ roomId, accessKey, afterSeq: 0n }] }));
  // One Connect envelope: flags 0, big-endian length, message.
  body = Buffer.alloc(5 + request.length);
  body.writeUInt32BE(request.length, 1);
  body.set(request, 5);
}, 60_000);

afterEach(async () => {
  await relay.close();
});

describe("a Subscribe client that stops reading and then goes away (API-13)", () => {
  it("over HTTP/1.1: closing the socket ends the stream at the relay", async () => {
    const socket = net.connect({ host: "127.0.0.1", port: relay.port });
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.pause();
    socket.write(
      `POST ${SUBSCRIBE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/connect+proto\r\n` +
        `Connect-Protocol-Version: 1\r\nAuthorization: ${account.headers.authorization}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body);
    await until(() => openStreams() === 1, "the stream to open");
    await new Promise((r) => setTimeout(r, STALL_MS));
    expect(openStreams()).toBe(1);
    socket.destroy();
    await until(() => openStreams() === 0, "the relay to end the stream");
  });

  for (const [how, leave] of [
    ["closing the connection", (session: http2.ClientHttp2Session) => session.destroy()],
    ["resetting the stream", (_: http2.ClientHttp2Session, stream: http2.ClientHttp2Stream) => stream.close(http2.constants.NGHTTP2_CANCEL)],
  ] as const) {
    it(`over HTTP/2: ${how} ends the stream at the relay`, async () => {
      const session = http2.connect(relay.url);
      try {
        const stream = session.request({
          ":method": "POST",
          ":path": SUBSCRIBE_PATH,
          "content-type": "application/connect+proto",
          "connect-protocol-version": "1",
          authorization: account.headers.authorization,
        });
        stream.end(body);
        stream.pause();
        await until(() => openStreams() === 1, "the stream to open");
        await new Promise((r) => setTimeout(r, STALL_MS));
        expect(openStreams()).toBe(1);
        leave(session, stream);
        await until(() => openStreams() === 0, "the relay to end the stream");
      } finally {
        session.destroy();
      }
    });
  }
});
