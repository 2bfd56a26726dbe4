// The relay's front door over real sockets: a real relay (openRelay, SQLite in a temp dir)
// on port 0, called over HTTP/1.1 and HTTP/2 with Connect, gRPC and gRPC-Web clients and with
// raw requests for what no client would send.

import { mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as http2 from "node:http2";
import { create, createFileRegistry, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import {
  GetRelayInfoResponseSchema,
  RelayInfoService,
  file_securecomm_relay_v1_relay_info,
} from "../gen/securecomm/relay/v1/relay_info_pb.js";
import { KEEP_ALIVE_TIMEOUT_MS, MAX_REQUEST_BYTES, startRelayServer } from "./server.js";
import { openRelay } from "./services/index.js";
import { CONTENT_SECURITY_POLICY } from "./static.js";
import { grpcFrame, h1Request, h2Request } from "./testing/raw-http.js";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

const transports = (url: string): Record<string, Transport> => ({
  "Connect over HTTP/1.1": createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
  "Connect over HTTP/2": createConnectTransport({ baseUrl: url, httpVersion: "2" }),
  "gRPC over h2c": createGrpcTransport({ baseUrl: url }),
  "gRPC-Web over HTTP/1.1": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
  "gRPC-Web over HTTP/2": createGrpcWebTransport({ baseUrl: url, httpVersion: "2" }),
});

/** A service no relay registers, built from a descriptor that reuses RelayInfo's messages. */
const NoSuchService = (() => {
  const registry = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: "securecomm/test/v1/nothing.proto",
      package: "securecomm.test.v1",
      dependency: ["securecomm/relay/v1/relay_info.proto"],
      syntax: "proto3",
      service: [
        {
          name: "NoSuchService",
          method: [
            {
              name: "GetRelayInfo",
              inputType: ".securecomm.relay.v1.GetRelayInfoRequest",
              outputType: ".securecomm.relay.v1.GetRelayInfoResponse",
            },
          ],
        },
      ],
    }),
    (name) => (name === file_securecomm_relay_v1_relay_info.proto.name ? file_securecomm_relay_v1_relay_info : undefined),
  );
  const service = registry.getService("securecomm.test.v1.NoSuchService");
  if (!service) throw new Error("test descriptor did not build");
  // Same method shape as RelayInfoService, so the typed client applies.
  return service as DescService as typeof RelayInfoService;
})();

let relay: TestRelay;
let staticDir: string;

beforeAll(async () => {
  staticDir = await mkdtemp(join(tmpdir(), "securecomm-static-"));
  await writeFile(join(staticDir, "index.html"), "<!doctype html><title>t</title>home");
  await writeFile(join(staticDir, "app.css"), "body{}");
  await writeFile(join(staticDir, "app.js"), "export {};");
  await writeFile(join(staticDir, ".secret"), "dotfile");
  await mkdir(join(staticDir, "sub"));
  await writeFile(join(staticDir, "sub", "index.html"), "sub-index");
  await symlink("/etc/hostname", join(staticDir, "escape.txt"));
  await mkdir(join(staticDir, "assets"));
  await writeFile(join(staticDir, "assets", "index-bfhw07vu.js"), "export {};");
  relay = await startTestRelay({ staticDir });
});

afterAll(async () => {
  await relay?.close();
  await rm(staticDir, { recursive: true, force: true });
});

async function expectServing(): Promise<void> {
  const info = await createClient(RelayInfoService, createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1" })).getRelayInfo({});
  expect(info.trustRootPublicKey.length).toBe(33);
}

describe("API-01 RelayInfo on every protocol", () => {
  it("answers with the same trust root over Connect, gRPC and gRPC-Web on HTTP/1.1 and HTTP/2", async () => {
    const roots = new Set<string>();
    for (const [name, transport] of Object.entries(transports(relay.url))) {
      const info = await createClient(RelayInfoService, transport).getRelayInfo({});
      expect(info.trustRootPublicKey.length, name).toBe(33);
      expect(info.trustRootPublicKey[0], name).toBe(0x05);
      expect(info.version, name).not.toBe("");
      expect(info.protocols, name).toContain("securecomm.relay.v1");
      roots.add(Buffer.from(info.trustRootPublicKey).toString("hex"));
    }
    expect(roots.size).toBe(1);
  });

  it("answers Connect GET for the side-effect-free RPC", async () => {
    const res = await h1Request(relay.url, {
      path: "/securecomm.relay.v1.RelayInfoService/GetRelayInfo?encoding=json&message=%7B%7D",
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toHaveProperty("trustRootPublicKey");
  });
});

describe("API-25 health", () => {
  it("reports SERVING for the server and every service, NOT_FOUND for unknown ones", async () => {
    const client = createClient(Health, createGrpcTransport({ baseUrl: relay.url }));
    expect((await client.check({ service: "" })).status).toBe(Serving.SERVING);
    const names = relay.server.serviceNames;
    expect(names).toEqual(
      expect.arrayContaining([
        "securecomm.relay.v1.AccountService",
        "securecomm.relay.v1.KeyService",
        "securecomm.relay.v1.MessageService",
        "securecomm.relay.v1.RelayInfoService",
        "securecomm.relay.v1.RoomService",
        "securecomm.relay.v1.BlobService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
      ]),
    );
    for (const service of names) expect((await client.check({ service })).status, service).toBe(Serving.SERVING);
    const list = await client.list({});
    expect(Object.keys(list.statuses).sort()).toEqual(["", ...names].sort());
    await expect(client.check({ service: "no.such.Service" })).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe("shutdown", () => {
  it("streams NOT_SERVING to Watch when close() starts, then refuses new connections", async () => {
    const own = await startTestRelay();
    try {
      const client = createClient(Health, createGrpcTransport({ baseUrl: own.url }));
      const abort = new AbortController();
      const stream = client.watch({ service: "securecomm.relay.v1.RelayInfoService" }, { signal: abort.signal });
      const seen: Serving[] = [];
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (!first.done) seen.push(first.value.status);
      const closed = own.server.close();
      const second = await iterator.next();
      if (!second.done) seen.push(second.value.status);
      await closed;
      abort.abort();
      expect(seen).toEqual([Serving.SERVING, Serving.NOT_SERVING]);
      expect(own.server.health.serving).toBe(false);
      await expect(
        createClient(RelayInfoService, createConnectTransport({ baseUrl: own.url, httpVersion: "1.1" })).getRelayInfo({}),
      ).rejects.toBeInstanceOf(ConnectError);
    } finally {
      await own.close();
    }
  });

  it("lets an in-flight request finish during close()", async () => {
    const own = await startTestRelay();
    try {
      // A unary call whose body has not arrived yet is in flight on the server.
      const session = http2.connect(own.url);
      const stream = session.request({
        ":method": "POST",
        ":path": "/securecomm.relay.v1.RelayInfoService/GetRelayInfo",
        "content-type": "application/proto",
      });
      const response = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        let status = 0;
        const chunks: Buffer[] = [];
        stream.on("response", (h) => (status = Number(h[":status"])));
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => resolve({ status, body: Buffer.concat(chunks) }));
        stream.on("error", reject);
      });
      while (own.server.activeRequests === 0) await new Promise((r) => setImmediate(r));
      const closing = own.server.close();
      stream.end(); // the empty request message arrives after shutdown began
      const { status, body } = await response;
      expect(status).toBe(200);
      expect(fromBinary(GetRelayInfoResponseSchema, body).trustRootPublicKey.length).toBe(33);
      await closing;
      session.destroy();
    } finally {
      await own.close();
    }
  });
});

describe("API-24 bad input", () => {
  const rpc = "/securecomm.relay.v1.RelayInfoService/GetRelayInfo";

  it("answers a garbage binary body with invalid_argument (Connect)", async () => {
    const res = await h1Request(relay.url, {
      method: "POST",
      path: rpc,
      headers: { "content-type": "application/proto" },
      body: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).code).toBe("invalid_argument");
    await expectServing();
  });

  it("answers malformed JSON with invalid_argument (Connect)", async () => {
    const res = await h1Request(relay.url, {
      method: "POST",
      path: rpc,
      headers: { "content-type": "application/json" },
      body: '{"unknownField": [',
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).code).toBe("invalid_argument");
    await expectServing();
  });

  it("answers a wrong content type with 415", async () => {
    const res = await h1Request(relay.url, {
      method: "POST",
      path: rpc,
      headers: { "content-type": "text/plain" },
      body: "hello",
    });
    expect(res.status).toBe(415);
    await expectServing();
  });

  it("answers a garbage gRPC frame over h2c with a gRPC error status", async () => {
    const res = await h2Request(relay.url, {
      method: "POST",
      path: rpc,
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: grpcFrame(new Uint8Array([0xff, 0xff, 0xff])),
    });
    expect(res.status).toBe(200);
    const status = res.trailers["grpc-status"] ?? res.headers["grpc-status"];
    expect(status).toBe(String(Code.InvalidArgument));
    await expectServing();
  });

  it("answers a garbage gRPC-Web frame over HTTP/1.1 with invalid_argument in the trailer frame", async () => {
    const res = await h1Request(relay.url, {
      method: "POST",
      path: rpc,
      headers: { "content-type": "application/grpc-web+proto" },
      body: grpcFrame(new Uint8Array([0xff, 0xff, 0xff])),
    });
    expect(res.status).toBe(200);
    const text = res.body.toString("latin1");
    const status = res.headers["grpc-status"] ?? /grpc-status: ?(\d+)/.exec(text)?.[1];
    expect(status).toBe(String(Code.InvalidArgument));
    await expectServing();
  });

  it("answers a garbage request message on a streaming RPC with invalid_argument (Connect and gRPC)", async () => {
    const path = "/securecomm.relay.v1.MessageService/Subscribe";
    const connect = await h1Request(relay.url, {
      method: "POST",
      path,
      headers: { "content-type": "application/connect+proto" },
      body: grpcFrame(new Uint8Array([0xff, 0xff, 0xff])),
    });
    expect(connect.status).toBe(200);
    expect(connect.body[0]).toBe(0x02); // end-stream message
    expect(JSON.parse(connect.body.subarray(5).toString("utf8")).error.code).toBe("invalid_argument");
    const grpc = await h2Request(relay.url, {
      method: "POST",
      path,
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: grpcFrame(new Uint8Array([0xff, 0xff, 0xff])),
    });
    expect(grpc.trailers["grpc-status"] ?? grpc.headers["grpc-status"]).toBe(String(Code.InvalidArgument));
    await expectServing();
  });

  it("answers a gRPC frame whose declared length exceeds the body with an error", async () => {
    const res = await h2Request(relay.url, {
      method: "POST",
      path: rpc,
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: grpcFrame(new Uint8Array(3), 1000),
    });
    const status = res.trailers["grpc-status"] ?? res.headers["grpc-status"];
    expect(status).not.toBe("0");
    expect(status).toBeDefined();
    await expectServing();
  });

  it("answers an oversized body with resource_exhausted and keeps serving", async () => {
    const big = new Uint8Array(MAX_REQUEST_BYTES + 1024);
    const res = await h2Request(relay.url, {
      method: "POST",
      path: rpc,
      headers: { "content-type": "application/proto", "content-length": String(big.length) },
      body: big,
    });
    expect(JSON.parse(res.text).code).toBe("resource_exhausted");
    const grpc = await h2Request(relay.url, {
      method: "POST",
      path: rpc,
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: grpcFrame(big),
    });
    expect(grpc.trailers["grpc-status"] ?? grpc.headers["grpc-status"]).toBe(String(Code.ResourceExhausted));
    await expectServing();
  });

  it("answers unknown methods and services as unimplemented on every protocol", async () => {
    for (const path of ["/securecomm.relay.v1.RelayInfoService/Nope", "/no.such.Service/Method"]) {
      const connect = await h1Request(relay.url, {
        method: "POST",
        path,
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(connect.status, path).toBe(404);
      expect(JSON.parse(connect.text).code, path).toBe("unimplemented");
      expect(connect.text, path).not.toContain("Nope");
      const grpc = await h2Request(relay.url, {
        method: "POST",
        path,
        headers: { "content-type": "application/grpc", te: "trailers" },
        body: grpcFrame(new Uint8Array(0)),
      });
      expect(grpc.trailers["grpc-status"] ?? grpc.headers["grpc-status"], path).toBe(String(Code.Unimplemented));
    }
    for (const [name, transport] of Object.entries(transports(relay.url))) {
      const error = await createClient(NoSuchService, transport)
        .getRelayInfo({})
        .then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(error?.code, name).toBe(Code.Unimplemented);
    }
    await expectServing();
  });

  it("closes an HTTP/1.1 connection whose headers never finish (slowloris)", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "securecomm-slow-"));
    const own = await openRelay({ dataDir, logLevel: "silent" });
    const server = await startRelayServer({ relay: own, port: 0, headersTimeoutMs: 300 });
    try {
      const { connect } = await import("node:net");
      const reply = await new Promise<string>((resolve) => {
        let data = "";
        const socket = connect(server.port, "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nHost: x\r\n"));
        socket.on("data", (c: Buffer) => (data += c.toString("latin1")));
        socket.on("close", () => resolve(data));
        socket.on("error", () => resolve(data));
      });
      expect(reply).toMatch(/^HTTP\/1\.1 408/);
      expect((await h1Request(server.url, { path: "/" })).status).toBe(200);
    } finally {
      await server.close();
      await own.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("answers any body, content type and path with a client-side code, never internal (fast-check)", async () => {
    const methods = relay.server.serviceNames.flatMap((name) =>
      ["GetRelayInfo", "CreateChallenge", "ProveIdentity", "UploadPreKeys", "FetchPreKeyBundle", "SendSealed", "Subscribe", "PostToRoom", "Check", "Nope"].map(
        (m) => `/${name}/${m}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods, "/", "/metrics", "/x/y/z"),
        fc.constantFrom(
          "application/proto",
          "application/json",
          "application/connect+proto",
          "application/connect+json",
          "application/grpc",
          "application/grpc+proto",
          "application/grpc-web+proto",
          "application/grpc-web-text",
          "text/plain",
          "",
        ),
        fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 16 }).map((b) => grpcFrame(b))),
        fc.boolean(),
        async (path, contentType, body, http2) => {
          const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
          if (http2 && contentType.startsWith("application/grpc")) headers.te = "trailers";
          const res = await (http2 ? h2Request : h1Request)(relay.url, { method: "POST", path, headers, body });
          expect(res.status, path).toBeLessThan(500);
          const statuses = [res.headers["grpc-status"], res.trailers["grpc-status"], /grpc-status: ?(\d+)/.exec(res.body.toString("latin1"))?.[1]];
          expect(statuses, path).not.toContain(String(Code.Internal));
          expect(res.body.toString("latin1"), path).not.toContain('"code":"internal"');
        },
      ),
      { numRuns: 120 },
    );
    await expectServing();
  });

  it("survives a connection that sends garbage instead of HTTP", async () => {
    const { connect } = await import("node:net");
    await new Promise<void>((resolve) => {
      const socket = connect(relay.port, "127.0.0.1", () => socket.end("\x00\x01garbage\r\n\r\n"));
      socket.on("data", () => {});
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });
    await expectServing();
  });
});

describe("static files", () => {
  it("serves / as index.html with the security headers", async () => {
    for (const send of [h1Request, h2Request]) {
      const res = await send(relay.url, { path: "/" });
      expect(res.status).toBe(200);
      expect(res.text).toContain("home");
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers["referrer-policy"]).toBe("no-referrer");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
      expect(CONTENT_SECURITY_POLICY).not.toContain("unsafe");
    }
  });

  it("serves content types by extension, directory indexes and HEAD", async () => {
    expect((await h1Request(relay.url, { path: "/app.css" })).headers["content-type"]).toBe("text/css; charset=utf-8");
    expect((await h1Request(relay.url, { path: "/app.js" })).headers["content-type"]).toBe(
      "text/javascript; charset=utf-8",
    );
    expect((await h1Request(relay.url, { path: "/sub/" })).text).toBe("sub-index");
    const head = await h1Request(relay.url, { method: "HEAD", path: "/app.css" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe("6");
    expect(head.body.length).toBe(0);
  });

  it("lets browsers keep content-hashed assets and revalidate everything else", async () => {
    const hashed = await h1Request(relay.url, { path: "/assets/index-bfhw07vu.js" });
    expect(hashed.status).toBe(200);
    expect(hashed.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect((await h1Request(relay.url, { path: "/" })).headers["cache-control"]).toBe("no-cache");
    expect((await h1Request(relay.url, { path: "/app.js" })).headers["cache-control"]).toBe("no-cache");
  });

  it("refuses traversal, dotfiles, symlink escapes and missing files with 404", async () => {
    for (const path of [
      "/../package.json",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2fetc%2fpasswd",
      "/sub/../../etc/passwd",
      "/.secret",
      "/escape.txt",
      "/%00",
      "/%E0%A4%A",
      "/missing.js",
      "/" + "a".repeat(5000),
    ]) {
      const res = await h1Request(relay.url, { path });
      expect(res.status, path).toBe(404);
      expect(res.text, path).not.toContain("dotfile");
      expect(res.headers["x-content-type-options"], path).toBe("nosniff");
    }
  });

  it("refuses other methods on static paths", async () => {
    const res = await h1Request(relay.url, { method: "DELETE", path: "/index.html" });
    expect(res.status).toBe(405);
  });

  it("serves the repository's web app by default (web/dist when built, else web/)", async () => {
    const plain = await startTestRelay();
    try {
      const res = await h1Request(plain.url, { path: "/" });
      expect(res.status).toBe(200);
      expect(res.text).toContain("SecureComm");
    } finally {
      await plain.close();
    }
  });
});

describe("HTTP/1.1 keep-alive", () => {
  it("keeps idle connections longer than Node's 5 s default and tells clients so", async () => {
    const res = await h1Request(relay.url, { path: "/", headers: { connection: "keep-alive" } });
    expect(res.status).toBe(200);
    expect(res.headers["keep-alive"]).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
    expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(5_000);
  });
});
