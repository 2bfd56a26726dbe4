// `/metrics` off the public port (spec/10-relay-api.md API-30, issue 11 item 5): a real relay
// on port 0; metrics on a separate loopback listener or behind a bearer token, never to anyone
// who can reach the relay's public port.

import { afterEach, describe, expect, it } from "vitest";
import { METRICS_CONTENT_TYPE, type MetricsEndpointOptions } from "./server.js";
import { h1Request, h2Request } from "./testing/raw-http.js";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

const TOKEN = "0123456789abcdef0123456789abcdef-metrics";
const started: TestRelay[] = [];
afterEach(async () => {
  for (const r of started.splice(0)) await r.close();
});
async function relayWith(metrics?: MetricsEndpointOptions): Promise<TestRelay> {
  const r = await startTestRelay(metrics ? { metrics } : {});
  started.push(r);
  return r;
}

/** Prometheus text format 0.0.4: every line a sample or a HELP/TYPE comment. */
function expectPrometheusText(text: string): void {
  const lines = text.split("\n").filter((l) => l !== "");
  expect(lines.length).toBeGreaterThan(0);
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? [-+]?(\d+(\.\d+)?([eE][-+]?\d+)?|NaN|\+Inf|-Inf)$/;
  const comment = /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/;
  for (const line of lines) expect(sample.test(line) || comment.test(line), line).toBe(true);
  expect(text).toMatch(/^# TYPE \S+ (counter|histogram)$/m);
}

describe("API-30 metrics are not public", () => {
  it("the public port does not serve /metrics (HTTP/1.1 and h2c)", async () => {
    const relay = await relayWith();
    for (const res of [await h1Request(relay.url, { path: "/metrics" }), await h2Request(relay.url, { path: "/metrics" })]) {
      expect(res.status).toBe(404);
      expect(res.text).not.toContain("securecomm_relay");
    }
  });

  it("a separate listener on loopback serves Prometheus text; the public port still does not", async () => {
    const relay = await relayWith({ port: 0 });
    const url = relay.server.metricsUrl;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await h1Request(new URL(url!).origin, { path: "/metrics" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe(METRICS_CONTENT_TYPE);
    expectPrometheusText(res.text);
    expect((await h1Request(new URL(url!).origin, { path: "/" })).status).toBe(404);
    expect((await h1Request(relay.url, { path: "/metrics" })).status).toBe(404);
  });

  it("behind a token on the public port: no token or a wrong one is 401, the right one 200", async () => {
    const relay = await relayWith({ token: TOKEN });
    expect((await h1Request(relay.url, { path: "/metrics" })).status).toBe(401);
    expect((await h1Request(relay.url, { path: "/metrics", headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    expect((await h2Request(relay.url, { path: "/metrics", headers: { authorization: `Bearer ${TOKEN.slice(1)}` } })).status).toBe(401);
    const ok = await h2Request(relay.url, { path: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expectPrometheusText(ok.text);
  });

  it("with both a port and a token, the separate listener requires the token", async () => {
    const relay = await relayWith({ port: 0, token: TOKEN });
    const origin = new URL(relay.server.metricsUrl!).origin;
    expect((await h1Request(origin, { path: "/metrics" })).status).toBe(401);
    expect((await h1Request(origin, { path: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await h1Request(relay.url, { path: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  });
});
