// The relay's network front: one TCP port answering Connect, gRPC and gRPC-Web over
// HTTP/1.1 and h2c (or HTTP/2 and HTTP/1.1 over TLS), plus gRPC reflection, gRPC health,
// `/metrics` and the web app's static files, with a graceful shutdown.
//
// Owns: sockets, protocol sniffing (h2c preface vs HTTP/1.1), the shared Connect handler and
// its transport-level limits, routing of non-RPC requests, draining on close. Does not own
// any securecomm.relay.v1 behaviour (relay/services/) or process concerns (relay/main.ts).

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { connectNodeAdapter, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { constantTimeEqual } from "./auth.js";
import { createConnectionGuard, effectiveMaxConnections, type GuardedConnection } from "./connection-guard.js";
import { createHealthState, type HealthState } from "./health.js";
import { DEFAULT_RELAY_LIMITS, type RelayLimitsConfig } from "./limits.js";
import { settleWritesOnClose } from "./orphaned-write.js";
import { registerReflection } from "./reflection.js";
import { createShutdownFanOut } from "./shutdown-fanout.js";
import {
  createStaticFiles,
  sendPlain,
  setSecurityHeaders,
  type StaticRequest,
  type StaticResponse,
} from "./static.js";

/**
 * Largest request message the transport reads, in bytes (Connect `readMaxBytes`). The
 * biggest legitimate request is a prekey upload at its per-call cap (100 Kyber prekeys of
 * 1569 + 64 bytes ≈ 165 KB); 1 MiB leaves headroom for a larger configured cap while a
 * garbage body cannot make the relay buffer more. Per-field limits (envelope size, counts)
 * are enforced by the services.
 */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * How long close() lets in-flight requests finish before destroying their connections.
 * Unary calls on loopback finish in milliseconds; streams are ended by the shutdown signal
 * at once, so this only bounds a stuck client.
 */
export const SHUTDOWN_GRACE_MS = 10_000;

/**
 * How long a fresh cleartext connection may stay silent before its protocol is known. Real
 * clients send their first bytes at once; this only stops idle sockets from piling up.
 */
export const PROTOCOL_SNIFF_TIMEOUT_MS = 30_000;

/**
 * How long an HTTP/1.1 client may take to send a request's headers (Node's default). Bounds
 * slow-header ("slowloris") connections; bodies and streams are not affected.
 */
export const HEADERS_TIMEOUT_MS = 60_000;

/**
 * How long an idle HTTP/1.1 keep-alive connection stays open. Node's default (5 s) races with
 * clients that reuse pooled connections: a request written just as the server closes the
 * socket fails with ECONNRESET (seen in client/e2e under load). Clients learn the value from
 * the `Keep-Alive: timeout=…` header and close first; it stays below HEADERS_TIMEOUT_MS.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 55_000;

/**
 * How long an HTTP/2 session closed for idleness (GOAWAY) may take to finish what it has in
 * flight before it is destroyed: a stream held open without frames must not keep it alive.
 */
export const H2_CLOSE_GRACE_MS = 5_000;

/** The HTTP/2 client connection preface (RFC 9113 §3.4); h2c prior-knowledge starts with it. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Prometheus text exposition content type, format version 0.0.4. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What the server needs from a relay (structurally satisfied by relay/services `Relay`). */
export interface ServableRelay {
  /** Registers every securecomm.relay.v1 service on a Connect router. */
  registerServices(router: ConnectRouter): void;
  /** Prometheus text exposition of the relay's metrics. */
  renderMetrics(): string;
  /** Counts what the connection guard and HTTP/2 timeouts did (fixed reasons, never addresses). */
  recordConnectionEvent?(event: ConnectionEvent): void;
  /** Connection caps and HTTP/2 timeouts (relay/limits.ts); defaults when absent. */
  readonly limits?: Pick<
    RelayLimitsConfig,
    "maxConnections" | "maxConnectionsPerAddress" | "h2IdleTimeoutMs" | "h2SettingsTimeoutMs"
  >;
}

/** Where and how `/metrics` is served (spec/10-relay-api.md API-30). */
export interface MetricsEndpointOptions {
  /** Serve on a separate listener bound to `host` (default 127.0.0.1) on this port (0 = free one). */
  readonly port?: number;
  readonly host?: string;
  /**
   * Require `authorization: Bearer <token>`. Without `port`, `/metrics` is then served on the
   * main port; with `port`, on the separate listener only.
   */
  readonly token?: string;
}

/** PEM certificate chain and private key for TLS. */
export interface RelayTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** Options of {@link startRelayServer}. */
export interface RelayServerOptions {
  readonly relay: ServableRelay;
  /** Interface to bind; default 127.0.0.1. */
  readonly host?: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  readonly port?: number;
  /** When given, serve HTTP/2 and HTTP/1.1 over TLS instead of cleartext. */
  readonly tls?: RelayTlsOptions;
  /** Directory of static files; default web/dist when built, else web/. */
  readonly staticDir?: string;
  /** Overrides {@link MAX_REQUEST_BYTES}. */
  readonly maxRequestBytes?: number;
  /** Overrides {@link SHUTDOWN_GRACE_MS}. */
  readonly shutdownGraceMs?: number;
  /** Overrides {@link HEADERS_TIMEOUT_MS} (cleartext HTTP/1.1). */
  readonly headersTimeoutMs?: number;
  /**
   * Where `/metrics` is served; absent: nowhere over HTTP (the main port answers `/metrics`
   * like any other static path). API-30.
   */
  readonly metrics?: MetricsEndpointOptions;
}

/** What the connection guard and HTTP/2 timeouts did, for aggregate counters. */
export type ConnectionEvent =
  | "refused_per_address"
  | "refused_total"
  | "evicted_idle"
  | "h2_idle_timeout"
  | "h2_settings_timeout";

/** A running relay server. */
export interface RelayServer {
  /** Base URL, e.g. "http://127.0.0.1:8080". */
  readonly url: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** The bound host. */
  readonly host: string;
  /** Fully-qualified names of every service answering on this server, sorted. */
  readonly serviceNames: readonly string[];
  /** Requests received and not yet answered (for diagnostics and shutdown tests). */
  readonly activeRequests: number;
  /** Health state; NOT_SERVING once close() starts. */
  readonly health: HealthState;
  /** URL of the separate metrics listener's `/metrics`, when one was started. */
  readonly metricsUrl?: string;
  /** Open client connections on the main port (for tests of the caps). */
  readonly openConnections: number;
  /** The total connection cap in force (configured, lowered to the descriptor limit). */
  readonly maxConnections: number;
  /**
   * Stops accepting connections, reports NOT_SERVING, ends streams, lets in-flight requests
   * finish (up to the grace period) and destroys every remaining connection. Does not close
   * the relay itself. Idempotent.
   */
  close(): Promise<void>;
}

/** The static directory served by default: web/dist when the web app is built, else web/. */
export function defaultStaticDir(): string {
  const dist = fileURLToPath(new URL("../web/dist/", import.meta.url));
  if (existsSync(dist + "index.html")) return dist;
  return fileURLToPath(new URL("../web/", import.meta.url));
}

const RPC_PATH = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

/**
 * connect-es reports a request body that is not valid protobuf as `internal` ("parse
 * binary: …"), while its JSON decoder and connect-go say `invalid_argument`. A garbage body is
 * the client's fault, and the relay's error contract (spec/10-relay-api.md API-24) says
 * so: these wrappers rewrite exactly that error, on all three protocols, to
 * `invalid_argument`. Nothing else is touched.
 */
const REQUEST_DECODE_ERROR = "parse binary:";
const ENCODED_DECODE_ERROR = encodeURIComponent(REQUEST_DECODE_ERROR);

async function collect(body: AsyncIterable<Uint8Array> | undefined): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body ?? []) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** Rewrites a gRPC-Web trailer frame carrying a request-decode error (see above). */
function fixGrpcWebTrailerFrame(chunk: Uint8Array): Uint8Array {
  if (chunk.length < 5 || chunk[0] !== 0x80) return chunk;
  const text = Buffer.from(chunk.subarray(5)).toString("latin1");
  if (!/^grpc-status: ?13\r?$/m.test(text) || !text.includes(ENCODED_DECODE_ERROR)) return chunk;
  const fixed = Buffer.from(text.replace(/^grpc-status: ?13(\r?)$/m, `grpc-status: ${Code.InvalidArgument}$1`), "latin1");
  const out = Buffer.alloc(5 + fixed.length);
  out[0] = 0x80;
  out.writeUInt32BE(fixed.length, 1);
  fixed.copy(out, 5);
  return out;
}

/** Rewrites a Connect end-stream message carrying a request-decode error (see above). */
function fixConnectEndStream(chunk: Uint8Array): Uint8Array {
  if (chunk.length < 5 || (chunk[0] ?? 0) !== 0x02) return chunk;
  try {
    const end = JSON.parse(Buffer.from(chunk.subarray(5)).toString("utf8")) as {
      error?: { code?: unknown; message?: unknown };
    };
    const error = end.error;
    if (error?.code !== "internal" || typeof error.message !== "string" || !error.message.startsWith(REQUEST_DECODE_ERROR)) {
      return chunk;
    }
    const fixed = Buffer.from(JSON.stringify({ ...end, error: { ...error, code: "invalid_argument" } }), "utf8");
    const out = Buffer.alloc(5 + fixed.length);
    out[0] = 0x02;
    out.writeUInt32BE(fixed.length, 1);
    fixed.copy(out, 5);
    return out;
  } catch {
    return chunk;
  }
}

function isGrpcDecodeError(headers: Headers | undefined): boolean {
  return (
    headers?.get("grpc-status") === String(Code.Internal) &&
    (headers.get("grpc-message") ?? "").startsWith(ENCODED_DECODE_ERROR)
  );
}

async function reclassifyDecodeError(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const contentType = res.header?.get("content-type") ?? "";
  if (res.status === 500 && contentType.startsWith("application/json")) {
    // Connect unary error: a small JSON body.
    const body = await collect(res.body);
    try {
      const error = JSON.parse(Buffer.from(body).toString("utf8")) as { code?: unknown; message?: unknown };
      if (error.code === "internal" && typeof error.message === "string" && error.message.startsWith(REQUEST_DECODE_ERROR)) {
        const fixed = Buffer.from(JSON.stringify({ ...error, code: "invalid_argument" }), "utf8");
        const header = new Headers(res.header);
        header.delete("content-length");
        return { ...res, status: 400, header, body: once(fixed) };
      }
    } catch {
      // Not a Connect error body: pass it through unchanged.
    }
    return { ...res, body: once(body) };
  }
  if (contentType.startsWith("application/connect+")) {
    // Connect streaming: the error travels in the end-stream message.
    const inner = res.body;
    if (!inner) return res;
    return {
      ...res,
      body: (async function* () {
        for await (const chunk of inner) yield fixConnectEndStream(chunk);
      })(),
    };
  }
  if (contentType.startsWith("application/grpc-web")) {
    const inner = res.body;
    if (!inner) return res;
    return {
      ...res,
      body: (async function* () {
        for await (const chunk of inner) yield fixGrpcWebTrailerFrame(chunk);
      })(),
    };
  }
  if (contentType.startsWith("application/grpc")) {
    if (isGrpcDecodeError(res.header)) res.header?.set("grpc-status", String(Code.InvalidArgument));
    const inner = res.body;
    const trailer = res.trailer;
    return {
      ...res,
      body: (async function* () {
        if (inner) yield* inner;
        // The node adapter writes trailers after the body ends, so this still counts.
        if (isGrpcDecodeError(trailer)) trailer?.set("grpc-status", String(Code.InvalidArgument));
      })(),
    };
  }
  return res;
}

/** Wraps a router handler so request-decode errors come out as `invalid_argument`. */
function withDecodeErrorsAsInvalidArgument(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> =>
    reclassifyDecodeError(await handler(req));
  return Object.assign(wrapped, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

/** Answers a request for an RPC path no service registered, in the caller's protocol. */
function unknownProcedure(req: StaticRequest, res: StaticResponse): void {
  req.resume();
  const contentType = String(req.headers["content-type"] ?? "");
  const message = "unknown service or method";
  if (contentType.startsWith("application/grpc")) {
    // gRPC and gRPC-Web: a trailers-only response with status UNIMPLEMENTED (12).
    const headers = {
      "content-type": contentType.startsWith("application/grpc-web")
        ? "application/grpc-web+proto"
        : "application/grpc",
      "grpc-status": "12",
      "grpc-message": encodeURIComponent(message),
    };
    if (res instanceof http2.Http2ServerResponse) {
      res.stream.respond({ ":status": 200, ...headers }, { endStream: true });
      return;
    }
    res.writeHead(200, headers);
    res.end();
    return;
  }
  // Connect: HTTP 404 means `unimplemented`; the JSON body says so explicitly.
  const body = Buffer.from(JSON.stringify({ code: "unimplemented", message }), "utf8");
  setSecurityHeaders(res);
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", String(body.length));
  res.writeHead(404);
  res.end(body);
}

/**
 * Starts the relay's HTTP server (spec/10-relay-api.md API-01, API-25): one port for Connect,
 * gRPC and gRPC-Web over HTTP/1.1 and h2c, or over TLS with HTTP/2 (ALPN) and HTTP/1.1 when
 * `tls` is given. Registers the relay's services, gRPC reflection and gRPC health; serves
 * `/metrics` and static files on other GET paths.
 */
export async function startRelayServer(options: RelayServerOptions): Promise<RelayServer> {
  const host = options.host ?? "127.0.0.1";
  const graceMs = options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS;
  const staticFiles = createStaticFiles(options.staticDir ?? defaultStaticDir());
  // connect-es adds one abort listener per in-flight call to the shutdown signal; thousands of
  // streams are normal, so the signal keeps its listeners in constant time (shutdown-fanout.ts).
  const shutdown = createShutdownFanOut();

  let routerRef: ConnectRouter | undefined;
  const services = (): DescService[] => {
    const seen = new Map<string, DescService>();
    for (const h of routerRef?.handlers ?? []) seen.set(h.service.typeName, h.service);
    return [...seen.values()];
  };
  const serviceNames = (): string[] => services().map((s) => s.typeName).sort();
  const health = createHealthState(serviceNames);

  const metricsToken = options.metrics?.token;
  const metricsOnMainPort = metricsToken !== undefined && options.metrics?.port === undefined;
  const serveMetrics = (req: StaticRequest, res: StaticResponse): void => {
    const method = req.method ?? "GET";
    if (metricsToken !== undefined) {
      const given = String(req.headers["authorization"] ?? "");
      // Hash both sides so the comparison is constant-time whatever the lengths.
      if (!constantTimeEqual(sha256Text(given), sha256Text(`Bearer ${metricsToken}`))) {
        sendPlain(res, 401, "unauthorized", { "www-authenticate": "Bearer" });
        return;
      }
    }
    let text: string;
    try {
      text = options.relay.renderMetrics();
    } catch {
      sendPlain(res, 500, "metrics unavailable");
      return;
    }
    const body = Buffer.from(text, "utf8");
    setSecurityHeaders(res);
    res.setHeader("content-type", METRICS_CONTENT_TYPE);
    res.setHeader("cache-control", "no-store");
    res.setHeader("content-length", String(body.length));
    res.writeHead(200);
    if (method === "HEAD") res.end();
    else res.end(body);
  };

  const frontDoor = (req: StaticRequest, res: StaticResponse): void => {
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (method !== "GET" && method !== "HEAD") {
      if (RPC_PATH.test(path) || String(req.headers["content-type"] ?? "").startsWith("application/")) {
        unknownProcedure(req, res);
      } else {
        req.resume();
        sendPlain(res, 405, "method not allowed", { allow: "GET, HEAD" });
      }
      return;
    }
    if (path === "/metrics" && metricsOnMainPort) {
      serveMetrics(req, res);
      return;
    }
    staticFiles.serve(req, res).catch(() => {
      if (!res.headersSent) sendPlain(res, 500, "internal error");
      else res.destroy();
    });
  };

  const handler = connectNodeAdapter({
    routes(router) {
      routerRef = router;
      options.relay.registerServices(router);
      health.register(router);
      registerReflection(router, services);
      router.handlers.splice(0, router.handlers.length, ...router.handlers.map(withDecodeErrorsAsInvalidArgument));
    },
    // The adapter's response type is a structural blend of http and http2 responses; both
    // concrete kinds reach frontDoor.
    fallback: frontDoor as unknown as NonNullable<ConnectNodeAdapterOptions["fallback"]>,
    readMaxBytes: options.maxRequestBytes ?? MAX_REQUEST_BYTES,
    shutdownSignal: shutdown.signal,
  });

  /** Paths of the registered RPCs (Connect, gRPC, gRPC-Web: `/package.Service/Method`). */
  const rpcPaths = new Set((routerRef?.handlers ?? []).map((h) => h.requestPath));

  // In-flight accounting, so close() can wait for requests to finish.
  let inflight = 0;
  let onDrained: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  const h1Active = new Map<net.Socket, number>();

  // Connection caps (API-27): addresses stay inside the guard, in memory only.
  const limits = options.relay.limits ?? DEFAULT_RELAY_LIMITS;
  const maxConnections = effectiveMaxConnections(limits.maxConnections);
  const guard = createConnectionGuard({ maxConnections, maxConnectionsPerAddress: limits.maxConnectionsPerAddress });
  const guarded = new Map<net.Socket, GuardedConnection>();
  const sessionConnection = new WeakMap<http2.ServerHttp2Session, GuardedConnection>();
  let handingOver: GuardedConnection | undefined; // the connection an h2c session is being created for
  const event = (e: ConnectionEvent): void => options.relay.recordConnectionEvent?.(e);
  /** Admits a raw socket or destroys it; returns whether it was admitted. */
  const admit = (socket: net.Socket): boolean => {
    const decision = guard.admit(socket.remoteAddress ?? "", () => socket.destroy(), performance.now());
    if (!decision.admitted) {
      event(decision.reason === "per_address" ? "refused_per_address" : "refused_total");
      socket.destroy();
      return false;
    }
    if (decision.evicted) event("evicted_idle");
    guarded.set(socket, decision.connection);
    socket.once("close", () => {
      guard.release(decision.connection);
      guarded.delete(socket);
    });
    return true;
  };
  /** The guarded connection a request arrived on (TLS sockets wrap the raw one as `_parent`). */
  const connectionOf = (req: StaticRequest): GuardedConnection | undefined => {
    if (req instanceof http2.Http2ServerRequest) return sessionConnection.get(req.stream.session as http2.ServerHttp2Session);
    const socket = req.socket as net.Socket & { _parent?: net.Socket };
    return guarded.get(socket) ?? (socket._parent ? guarded.get(socket._parent) : undefined);
  };

  const onRequest = (req: StaticRequest, res: StaticResponse): void => {
    inflight++;
    const h1Socket = req instanceof http.IncomingMessage ? req.socket : undefined;
    if (h1Socket) h1Active.set(h1Socket, (h1Active.get(h1Socket) ?? 0) + 1);
    const connection = connectionOf(req);
    if (connection) guard.begin(connection, performance.now());
    if (closing && h1Socket) res.setHeader("connection", "close");
    let done = false;
    res.once("close", () => {
      if (done) return;
      done = true;
      inflight--;
      if (connection) guard.end(connection, performance.now());
      if (h1Socket) {
        const left = (h1Active.get(h1Socket) ?? 1) - 1;
        h1Active.set(h1Socket, left);
        if (closing && left === 0) h1Socket.destroy();
      }
      if (inflight === 0) onDrained?.();
    });
    // Only RPC responses: Connect's streaming write is the one that can hang (orphaned-write.ts).
    if (rpcPaths.has((req.url ?? "").split("?", 1)[0] ?? "")) settleWritesOnClose(res);
    handler(req, res);
  };

  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      h1Active.delete(socket);
    });
  };
  const trackSession = (session: http2.ServerHttp2Session): void => {
    sessions.add(session);
    session.on("error", () => session.destroy());
    const parent = (session.socket as unknown as { _parent?: net.Socket } | undefined)?._parent;
    const connection = handingOver ?? (parent ? guarded.get(parent) : undefined);
    if (connection) sessionConnection.set(session, connection);
    // SETTINGS timeout (RFC 9113 §6.5.3): the client's SETTINGS and its ack of ours must
    // arrive promptly, or the session only holds a descriptor.
    let remoteSettings = false;
    let settingsAcked = false;
    const settingsTimer = setTimeout(() => {
      event("h2_settings_timeout");
      session.destroy(undefined, http2.constants.NGHTTP2_SETTINGS_TIMEOUT);
    }, limits.h2SettingsTimeoutMs);
    settingsTimer.unref();
    const settled = (): void => {
      if (remoteSettings && settingsAcked) clearTimeout(settingsTimer);
    };
    session.once("remoteSettings", () => {
      remoteSettings = true;
      settled();
    });
    session.once("localSettings", () => {
      settingsAcked = true;
      settled();
    });
    // Idle timeout: no frames either way for h2IdleTimeoutMs. GOAWAY lets in-flight streams
    // finish; a stream held open without frames is cut after H2_CLOSE_GRACE_MS.
    session.setTimeout(limits.h2IdleTimeoutMs, () => {
      if (session.closed || session.destroyed) return;
      event("h2_idle_timeout");
      session.close();
      setTimeout(() => session.destroy(), H2_CLOSE_GRACE_MS).unref();
    });
    session.once("close", () => {
      clearTimeout(settingsTimer);
      sessions.delete(session);
    });
  };

  let listener: net.Server;
  let closeH1: (() => void) | undefined;
  if (options.tls) {
    const secure = http2.createSecureServer(
      { cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, minVersion: "TLSv1.2" },
      onRequest,
    );
    secure.on("connection", (socket: net.Socket) => {
      socket.on("error", () => socket.destroy());
      if (!admit(socket)) return;
      track(socket);
    });
    secure.on("secureConnection", (socket: net.Socket) => track(socket));
    secure.on("session", trackSession);
    secure.on("tlsClientError", () => {});
    listener = secure;
  } else {
    // Long-lived Subscribe streams must not be cut by Node's request timeout; slow senders of
    // headers still are (headersTimeout, 60 s by default).
    const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    const h1 = http.createServer(
      {
        requestTimeout: 0,
        headersTimeout,
        keepAliveTimeout: Math.min(KEEP_ALIVE_TIMEOUT_MS, headersTimeout),
        // Node checks timeouts on this period (30 s by default); a shorter headers timeout
        // needs more frequent checks to mean anything.
        connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeout / 4))),
      },
      onRequest,
    );
    // This server never listens itself (sockets are handed to it), and Node only starts the
    // connection checks that enforce headersTimeout on 'listening'. Without them a client
    // could hold a socket by trickling header bytes. h1.close() in close() stops them again.
    h1.emit("listening");
    closeH1 = () => h1.close();
    const h2 = http2.createServer({}, onRequest);
    h2.on("session", trackSession);
    // noDelay: sockets handed to http/http2 by 'connection' skip the servers' own setup, which
    // turns Nagle off; with it on, a response written in two pieces waits for the client's
    // delayed ACK (~40 ms per call: blob uploads crawled at 8 MB/s, bench/attachments.ts).
    listener = net.createServer({ noDelay: true }, (socket) => {
      socket.on("error", () => socket.destroy());
      if (!admit(socket)) return;
      track(socket);
      socket.setTimeout(PROTOCOL_SNIFF_TIMEOUT_MS, () => socket.destroy());
      let buffered: Buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        const n = Math.min(buffered.length, H2_PREFACE.length);
        const h2c = buffered.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
        if (h2c && n < H2_PREFACE.length) return; // could still be either: wait for more
        socket.off("data", onData);
        socket.setTimeout(0);
        socket.pause();
        socket.unshift(buffered);
        // http2 drains the socket's buffer itself on the next tick (resuming would flush the
        // bytes to no listener); http reads them as 'data' events once the stream flows.
        if (h2c) {
          handingOver = guarded.get(socket);
          try {
            h2.emit("connection", socket);
          } finally {
            handingOver = undefined;
          }
        } else {
          h1.emit("connection", socket);
          socket.resume();
        }
      };
      socket.on("data", onData);
    });
  }

  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port ?? 8080, host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const port = (listener.address() as AddressInfo).port;
  const scheme = options.tls ? "https" : "http";
  const url = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;

  // The separate metrics listener (API-30): HTTP/1.1, `/metrics` only, loopback by default.
  let metricsServer: http.Server | undefined;
  let metricsUrl: string | undefined;
  if (options.metrics?.port !== undefined) {
    const metricsHost = options.metrics.host ?? "127.0.0.1";
    const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 10_000 }, (req, res) => {
      const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
      req.resume();
      if (path !== "/metrics") sendPlain(res, 404, "not found");
      else if (req.method !== "GET" && req.method !== "HEAD") sendPlain(res, 405, "method not allowed", { allow: "GET, HEAD" });
      else serveMetrics(req, res);
    });
    server.keepAliveTimeout = 5_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.metrics?.port, metricsHost, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      await new Promise<void>((r) => listener.close(() => r()));
      throw error;
    }
    metricsServer = server;
    const metricsPort = (server.address() as AddressInfo).port;
    metricsUrl = `http://${metricsHost.includes(":") ? `[${metricsHost}]` : metricsHost}:${metricsPort}/metrics`;
  }

  const close = (): Promise<void> =>
    (closing ??= (async () => {
      health.setNotServing();
      // Let Watch streams flush NOT_SERVING before the shutdown signal ends them.
      await new Promise((r) => setImmediate(r));
      shutdown.abort();
      const stopped = new Promise<void>((r) => listener.close(() => r()));
      closeH1?.();
      for (const session of sessions) session.close();
      for (const [socket, active] of h1Active) if (active === 0) socket.destroy();
      if (inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          timer.unref();
          onDrained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      if (metricsServer) {
        const m = metricsServer;
        await new Promise<void>((r) => {
          m.close(() => r());
          m.closeAllConnections();
        });
      }
      await stopped;
    })());

  return {
    url,
    port,
    host,
    get serviceNames() {
      return serviceNames();
    },
    get activeRequests() {
      return inflight;
    },
    health,
    ...(metricsUrl !== undefined ? { metricsUrl } : {}),
    get openConnections() {
      return guard.size;
    },
    maxConnections,
    close,
  };
}

function sha256Text(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}
