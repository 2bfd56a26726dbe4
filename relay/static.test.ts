// Compression of the web app's text assets by the static handler (issue 12, item 6): a real
// HTTP/1.1 server on port 0, answers decoded and compared byte for byte.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseEncoding, createStaticFiles, IMMUTABLE_CACHE } from "./static.js";

let dir: string;
let server: Server;
let port: number;
const script = `export const x = ${JSON.stringify("chat ".repeat(20_000))};\n`;
const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "securecomm-static-gzip-"));
  await mkdir(join(dir, "assets"));
  await writeFile(join(dir, "assets", "index-bfhw07vu.js"), script);
  await writeFile(join(dir, "logo.png"), png);
  await writeFile(join(dir, "index.html"), "<!doctype html><title>t</title>");
  const files = createStaticFiles(dir);
  server = createServer((req, res) => void files.serve(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string>, method = "GET"): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("static files are served compressed", () => {
  it("answers brotli or gzip as the browser asks, with long caching for hashed assets", async () => {
    const br = await get("/assets/index-bfhw07vu.js", { "accept-encoding": "gzip, deflate, br, zstd" });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers.vary).toBe("accept-encoding");
    expect(br.headers["cache-control"]).toBe(IMMUTABLE_CACHE);
    expect(Number(br.headers["content-length"])).toBe(br.body.length);
    expect(br.body.length).toBeLessThan(script.length / 20);
    expect(brotliDecompressSync(br.body).toString("utf8")).toBe(script);

    const gz = await get("/assets/index-bfhw07vu.js", { "accept-encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body).toString("utf8")).toBe(script);

    const plain = await get("/assets/index-bfhw07vu.js", {});
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body.toString("utf8")).toBe(script);

    const head = await get("/assets/index-bfhw07vu.js", { "accept-encoding": "br" }, "HEAD");
    expect(head.headers["content-length"]).toBe(br.headers["content-length"]);
    expect(head.body.length).toBe(0);

    const shell = await get("/", { "accept-encoding": "gzip" });
    expect(shell.headers["cache-control"]).toBe("no-cache");
    expect(gunzipSync(shell.body).toString("utf8")).toContain("<title>t</title>");
  });

  it("leaves already-compressed types alone and honours q=0", async () => {
    const image = await get("/logo.png", { "accept-encoding": "gzip, br" });
    expect(image.headers["content-encoding"]).toBeUndefined();
    expect(image.body.equals(png)).toBe(true);
    expect(chooseEncoding("br;q=0, gzip")).toBe("gzip");
    expect(chooseEncoding("identity")).toBeUndefined();
    expect(chooseEncoding(undefined)).toBeUndefined();
  });
});
