// Raw HTTP/1.1 and HTTP/2 requests for tests that must send what no RPC client would:
// garbage bodies, wrong content types, unknown paths, oversized messages.
//
// Owns: one request/response exchange per call, collected in memory. Test-only.

import * as http from "node:http";
import * as http2 from "node:http2";

/** A raw request. */
export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
}

/** A raw response, with trailers for HTTP/2. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly trailers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** The body as UTF-8 text. */
  readonly text: string;
}

/**
 * Sends one HTTP/1.1 request on a fresh connection. If the server answers before the body
 * is fully written (an oversized body), the answer is still returned.
 */
export function h1Request(baseUrl: string, request: RawRequest): Promise<RawResponse> {
  const url = new URL(request.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        // Path as given, not normalized by URL (traversal tests need the raw form).
        path: request.path,
        method: request.method ?? "GET",
        headers: { connection: "close", ...request.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body, text: body.toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    // An early answer to an oversized body may reset the connection mid-write; the response
    // (if any) has been delivered by then.
    req.on("error", reject);
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}

/** Sends one HTTP/2 (h2c prior knowledge) request on a fresh session. */
export function h2Request(baseUrl: string, request: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": request.method ?? "GET",
      ":path": request.path,
      ...request.headers,
    });
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      session.close();
      resolve({ status, headers, trailers, body, text: body.toString("utf8") });
    });
    stream.on("error", (error) => {
      session.destroy();
      reject(error);
    });
    if (request.body !== undefined) stream.write(request.body);
    stream.end();
  });
}

/** Frames a message for gRPC / gRPC-Web: flag byte 0, 4-byte big-endian length, payload. */
export function grpcFrame(payload: Uint8Array, declaredLength = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(1, declaredLength);
  out.set(payload, 5);
  return out;
}
