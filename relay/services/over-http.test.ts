/**
 * The relay's services over real HTTP: a real relay on port 0 (relay/testing startTestRelay)
 * with a real SQLite file, reached through Connect (HTTP/1.1 and HTTP/2), gRPC (h2c) and
 * gRPC-Web transports.
 */
import { Code, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../auth.js";
import { h1Request } from "../testing/raw-http.js";
import { startTestRelay, type TestRelay } from "../testing/test-relay.js";
import { clientsFor, expectRelayError, makePreKeys, randomId, randomKey, registerAccount } from "./harness.test-support.js";

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay({ limits: { maxBundleFetchesPerMinute: 1000 } });
});
afterAll(async () => {
  await relay.close();
});

const transports: Record<string, () => Transport> = {
  "Connect/HTTP1.1": () => createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1" }),
  "Connect/HTTP2": () => createConnectTransport({ baseUrl: relay.url, httpVersion: "2" }),
  "gRPC/h2c": () => createGrpcTransport({ baseUrl: relay.url }),
  "gRPC-Web/HTTP1.1": () => createGrpcWebTransport({ baseUrl: relay.url, httpVersion: "1.1" }),
};

describe("relay services over real HTTP", () => {
  for (const [name, make] of Object.entries(transports)) {
    it(`${name}: register, upload, fetch a bundle, subscribe, send and receive, post to a room, errors keep their codes`, async () => {
      const c = clientsFor(make());
      const a = await registerAccount(c);
      const b = await registerAccount(c);
      await c.keys.uploadPreKeys(makePreKeys(b.identity, { oneTime: 1, kyber: 1 }), { headers: b.headers });
      const bundle = await c.keys.fetchPreKeyBundle({ address: b.address }, { headers: a.headers });
      expect(bundle.result.case).toBe("bundle");

      const roomId = randomId();
      const accessKey = randomKey();
      await c.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: a.headers });
      const abort = new AbortController();
      const stream = c.messages.subscribe({ rooms: [{ roomId, accessKey, afterSeq: 0n }] }, { headers: b.headers, signal: abort.signal })[Symbol.asyncIterator]();
      expect((await stream.next()).value?.event.case).toBe("caughtUp");
      await c.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: new Uint8Array([0x11, 42]) });
      const mail = (await stream.next()).value;
      expect(mail?.event.case === "mailbox" && mail.event.value.envelopes[0]?.envelope).toEqual(new Uint8Array([0x11, 42]));
      await c.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, 2, 3]) });
      const ev = (await stream.next()).value;
      expect(ev?.event.case === "room" && Number(ev.event.value.events[0]?.seq)).toBe(1);
      abort.abort();

      await expectRelayError(c.messages.sendSealed({ recipientAddress: b.address, deliveryToken: randomKey(), envelope: new Uint8Array([0x11]) }), Code.PermissionDenied, "DELIVERY_DENIED");
      await expectRelayError(c.keys.getPreKeyCounts({}), Code.Unauthenticated, "MISSING_TOKEN");
      await expectRelayError(c.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: a.headers }), Code.AlreadyExists, "ROOM_EXISTS");
    });
  }

  it("API-06: an upload at the per-call cap (100 one-time EC and 100 Kyber prekeys) fits the transport's request limit", async () => {
    const c = clientsFor(transports["Connect/HTTP1.1"]!());
    const a = await registerAccount(c);
    const res = await c.keys.uploadPreKeys(makePreKeys(a.identity, { oneTime: 100, kyber: 100 }), { headers: a.headers });
    expect(res.counts).toMatchObject({ oneTimePreKeys: 100, kyberPreKeys: 100 });
  });

  it("API-08: parallel bundle fetches over HTTP/1.1 and HTTP/2 hand out each one-time prekey at most once", async () => {
    const h1 = clientsFor(transports["Connect/HTTP1.1"]!());
    const h2 = clientsFor(transports["gRPC/h2c"]!());
    const owner = await registerAccount(h1);
    const requesters = await Promise.all([registerAccount(h1), registerAccount(h2)]);
    await h1.keys.uploadPreKeys(makePreKeys(owner.identity, { oneTime: 50, kyber: 30 }), { headers: owner.headers });
    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) => (i % 2 ? h2 : h1).keys.fetchPreKeyBundle({ address: owner.address }, { headers: requesters[i % 2]!.headers })),
    );
    const ec = results.flatMap((r) => (r.result.case === "bundle" && r.result.value.oneTimePreKey ? [r.result.value.oneTimePreKey.id] : []));
    const kyber = results.flatMap((r) => (r.result.case === "bundle" && !r.result.value.kyberPreKeyIsLastResort ? [r.result.value.kyberPreKey!.id] : []));
    expect(ec.length).toBe(50);
    expect(new Set(ec).size).toBe(50);
    expect(kyber.length).toBe(30);
    expect(new Set(kyber).size).toBe(30);
  });
});

describe("durability across a clean restart", () => {
  it("acknowledged sends and posts are delivered after the relay restarts on the same data directory", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "securecomm-relay-restart-"));
    try {
      let r = await startTestRelay({ dataDir });
      let c = clientsFor(createConnectTransport({ baseUrl: r.url, httpVersion: "1.1" }));
      const b = await registerAccount(c);
      const roomId = randomId();
      const accessKey = randomKey();
      await c.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: b.headers });
      await Promise.all(Array.from({ length: 20 }, (_, i) => c.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: new Uint8Array([0x11, i]) })));
      for (let i = 0; i < 5; i++) await c.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, i]) });
      await r.close();

      r = await startTestRelay({ dataDir });
      c = clientsFor(createConnectTransport({ baseUrl: r.url, httpVersion: "1.1" }));
      const abort = new AbortController();
      const got: number[] = [];
      const seqs: number[] = [];
      for await (const m of c.messages.subscribe({ rooms: [{ roomId, accessKey, afterSeq: 0n }] }, { headers: b.headers, signal: abort.signal })) {
        if (m.event.case === "mailbox") got.push(...m.event.value.envelopes.map((e) => e.envelope[1]!));
        if (m.event.case === "room") seqs.push(...m.event.value.events.map((e) => Number(e.seq)));
        if (m.event.case === "caughtUp") break;
      }
      abort.abort();
      expect(got.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(seqs).toEqual([1, 2, 3, 4, 5]);
      expect((await c.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1]) })).seq).toBe(6n);
      await r.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("Subscribe and the caller's deadline", () => {
  it("API-11: a stream cut by the caller's deadline ends with deadline_exceeded, never as a clean end", async () => {
    // The Connect protocol carries the deadline as `connect-timeout-ms`; a handler that simply
    // returned once the deadline's signal fired let the end-stream message say "no error" when it
    // raced Connect's own timeout (buf curl then exited 0: seen in scripts/readme.test.ts).
    // Raw HTTP/1.1 reads exactly what the relay wrote, with no client-side deadline of its own.
    const c = clientsFor(createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1" }));
    const a = await registerAccount(c);
    const body = new TextEncoder().encode("{}");
    const frame = new Uint8Array(5 + body.length);
    new DataView(frame.buffer).setUint32(1, body.length);
    frame.set(body, 5);
    for (let i = 0; i < 3; i++) {
      const res = await h1Request(relay.url, {
        method: "POST",
        path: "/securecomm.relay.v1.MessageService/Subscribe",
        headers: { "content-type": "application/connect+json", "connect-timeout-ms": "300", ...a.headers },
        body: frame,
      });
      expect(res.status).toBe(200);
      // The last enveloped message is the end-stream message (flag 0x02) with the error.
      let offset = 0;
      let last: { flags: number; json: string } | undefined;
      while (offset + 5 <= res.body.length) {
        const len = res.body.readUInt32BE(offset + 1);
        last = { flags: res.body[offset] ?? 0, json: res.body.subarray(offset + 5, offset + 5 + len).toString("utf8") };
        offset += 5 + len;
      }
      expect(last?.flags).toBe(2);
      expect(JSON.parse(last?.json ?? "{}").error?.code).toBe("deadline_exceeded");
    }
  });
});
