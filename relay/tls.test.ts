// The relay behind TLS: a certificate generated here with openssl (P-256, self-signed for
// 127.0.0.1), served by startRelayServer with HTTP/2 (ALPN h2) and HTTP/1.1.

import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RelayInfoService } from "../gen/securecomm/relay/v1/relay_info_pb.js";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

let dir: string;
let cert: Buffer;
let relay: TestRelay;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "securecomm-tls-"));
  execFileSync(
    "openssl",
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  cert = await readFile(join(dir, "cert.pem"));
  relay = await startTestRelay({ tls: { cert, key: await readFile(join(dir, "key.pem")) } });
});

afterAll(async () => {
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("API-01 relay over TLS", () => {
  it("serves https on the bound port", () => {
    expect(relay.url).toBe(`https://127.0.0.1:${relay.port}`);
  });

  it("answers Connect and gRPC over HTTP/2 and Connect and gRPC-Web over HTTP/1.1, trusting the test CA", async () => {
    const transports = {
      "Connect h2": createConnectTransport({ baseUrl: relay.url, httpVersion: "2", nodeOptions: { ca: cert } }),
      "gRPC h2": createGrpcTransport({ baseUrl: relay.url, nodeOptions: { ca: cert } }),
      "Connect 1.1": createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1", nodeOptions: { ca: cert } }),
      "gRPC-Web 1.1": createGrpcWebTransport({ baseUrl: relay.url, httpVersion: "1.1", nodeOptions: { ca: cert } }),
    };
    for (const [name, transport] of Object.entries(transports)) {
      const info = await createClient(RelayInfoService, transport).getRelayInfo({});
      expect(info.trustRootPublicKey.length, name).toBe(33);
    }
  });

  it("is refused by a client that does not trust the certificate", async () => {
    const transport = createConnectTransport({ baseUrl: relay.url, httpVersion: "2" });
    const error = await createClient(RelayInfoService, transport)
      .getRelayInfo({})
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect(error?.message).toMatch(/certificate/i);
  });

  it("does not answer cleartext HTTP on the TLS port", async () => {
    const transport = createConnectTransport({ baseUrl: relay.url.replace("https:", "http:"), httpVersion: "1.1" });
    await expect(createClient(RelayInfoService, transport).getRelayInfo({})).rejects.toBeInstanceOf(ConnectError);
    // …and still serves TLS clients afterwards.
    const ok = createConnectTransport({ baseUrl: relay.url, httpVersion: "2", nodeOptions: { ca: cert } });
    expect((await createClient(RelayInfoService, ok).getRelayInfo({})).trustRootPublicKey.length).toBe(33);
  });
});
