// Static files for the relay's front door: serves the web app (web/dist when built, else the
// placeholder in web/) from the relay's own origin, with strict security headers.
//
// Owns: path resolution inside one root (no traversal, no symlink escapes, no dotfiles),
// content types, the security headers every non-RPC response carries, and compression of text
// assets (brotli or gzip, as the browser asks). Does not own RPC routing (relay/server.ts) or
// what the web app contains (web/).

import { createReadStream } from "node:fs";
import { readFile, realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { extname, join, resolve, sep } from "node:path";
import { promisify } from "node:util";
import { brotliCompress, constants as zlibConstants, gzip } from "node:zlib";

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** A request as the http or http2 compatibility API hands it to us. */
export type StaticRequest = IncomingMessage | Http2ServerRequest;
/** A response from the http or http2 compatibility API. */
export type StaticResponse = ServerResponse | Http2ServerResponse;

/**
 * Content-Security-Policy for everything the relay serves outside RPC (DESIGN.md §5: the web
 * app is served from the relay's origin; the spec has no requirement id for it yet).
 * Same-origin scripts, styles and connections only; no inline script, no plugins, no
 * framing, no base-URI or form hijacking. `data:`/`blob:` images allow QR codes for safety
 * numbers rendered client-side and decrypted image attachments; `blob:` media plays decrypted
 * voice notes (issue 13). Decrypted files exist only as same-origin object URLs.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Headers on every static, metrics and fallback response. `no-referrer` keeps invite-link
 * paths out of Referer headers (the fragment never leaves the browser anyway); `nosniff`
 * stops content-type guessing; COOP/CORP isolate the origin; Permissions-Policy turns off
 * powerful features the app never uses, and allows the microphone to this origin only (voice
 * notes, issue 13).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(self), geolocation=(), payment=(), usb=()",
};

/** Content types by file extension; anything else is served as application/octet-stream. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

/**
 * Longest URL path accepted for a static file. Real asset paths are short; anything longer
 * is a probe and gets 404 without touching the file system.
 */
export const MAX_STATIC_PATH_LENGTH = 1024;

/**
 * A content-hashed build asset, as Vite names them (`/assets/index-bfhw07vu.js`): the name
 * changes whenever the content does.
 */
export const HASHED_ASSET = /^\/assets\/[\w.-]+-[A-Za-z0-9_-]{8,}\.(js|css|woff2?|svg|png|webp|wasm)$/;

/** Cache policy for {@link HASHED_ASSET} files: a year, never revalidated. */
export const IMMUTABLE_CACHE = "public, max-age=31536000, immutable";

/** Content types worth compressing (text); images and fonts are already compressed. */
const COMPRESSIBLE = /^(text\/|application\/(json|manifest\+json|wasm)|image\/svg\+xml)/;
/** Files larger than this are streamed as they are (the app's files are a few hundred KB). */
export const MAX_COMPRESSED_FILE_BYTES = 8 * 1024 * 1024;
/** Compressed copies kept in memory, by file, size and modification time; oldest dropped first. */
export const MAX_COMPRESSED_ENTRIES = 64;

/** The encoding to answer with for an Accept-Encoding header: brotli, else gzip, else none. */
export function chooseEncoding(acceptEncoding: string | string[] | undefined): "br" | "gzip" | undefined {
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(",") : (acceptEncoding ?? "");
  const offered = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name = "", ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    offered.set(name.trim(), q === undefined ? 1 : Number(q));
  }
  if ((offered.get("br") ?? 0) > 0) return "br";
  if ((offered.get("gzip") ?? 0) > 0) return "gzip";
  return undefined;
}

/** Applies {@link SECURITY_HEADERS} to a response that has not started. */
export function setSecurityHeaders(res: StaticResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
}

/** Ends a response with a short plain-text status page (never echoes the request). */
export function sendPlain(
  res: StaticResponse,
  status: number,
  text: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  setSecurityHeaders(res);
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  for (const [name, value] of Object.entries(extraHeaders)) res.setHeader(name, value);
  const body = Buffer.from(text + "\n", "utf8");
  res.setHeader("content-length", String(body.length));
  res.writeHead(status);
  res.end(body);
}

/** A handler for GET/HEAD requests of files under one root directory. */
export interface StaticFiles {
  /** The absolute root directory served. */
  readonly root: string;
  /** Serves the request (including 404/405 answers); resolves when the response is handed off. */
  serve(req: StaticRequest, res: StaticResponse): Promise<void>;
}

/**
 * Creates a static-file handler for `rootDir` (DESIGN.md §5, same-origin web app). `/` and
 * directories map to their `index.html`; paths are percent-decoded once, must stay inside
 * the root after resolving symlinks, and may not contain dot-segments, dotfiles, NUL or
 * backslashes.
 */
export function createStaticFiles(rootDir: string): StaticFiles {
  const root = resolve(rootDir);
  let realRoot: Promise<string> | undefined;
  const rootReal = (): Promise<string> => (realRoot ??= realpath(root).catch(() => root));
  const compressed = new Map<string, Promise<Buffer>>();

  /** `file` compressed with `encoding`, computed once per version of the file. */
  function compressedCopy(file: string, size: number, mtimeMs: number, encoding: "br" | "gzip"): Promise<Buffer> {
    const key = `${encoding}\0${size}\0${mtimeMs}\0${file}`;
    let entry = compressed.get(key);
    if (entry === undefined) {
      entry = (async () => {
        const raw = await readFile(file);
        return encoding === "br"
          ? brotli(raw, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 10, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.length } })
          : gzipAsync(raw, { level: 9 });
      })();
      entry.catch(() => compressed.delete(key));
      compressed.set(key, entry);
      while (compressed.size > MAX_COMPRESSED_ENTRIES) compressed.delete(compressed.keys().next().value as string);
    }
    return entry;
  }

  async function locate(urlPath: string): Promise<string | undefined> {
    if (urlPath.length > MAX_STATIC_PATH_LENGTH || !urlPath.startsWith("/")) return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
    const segments = decoded.split("/").filter((s) => s.length > 0);
    // Dot-segments and dotfiles are refused outright, before any path arithmetic.
    if (segments.some((s) => s.startsWith("."))) return undefined;
    let candidate = join(root, ...segments);
    if (candidate !== root && !candidate.startsWith(root + sep)) return undefined;
    try {
      let info = await stat(candidate);
      if (info.isDirectory()) {
        candidate = join(candidate, "index.html");
        info = await stat(candidate);
      }
      if (!info.isFile()) return undefined;
      const real = await realpath(candidate);
      const base = await rootReal();
      if (!real.startsWith(base + sep)) return undefined;
      return real;
    } catch {
      return undefined;
    }
  }

  return {
    root,
    async serve(req, res) {
      const method = req.method ?? "GET";
      if (method !== "GET" && method !== "HEAD") {
        sendPlain(res, 405, "method not allowed", { allow: "GET, HEAD" });
        return;
      }
      const urlPath = (req.url ?? "/").split("?", 1)[0] ?? "/";
      const file = await locate(urlPath);
      if (file === undefined) {
        sendPlain(res, 404, "not found");
        return;
      }
      let size: number;
      let mtimeMs: number;
      try {
        ({ size, mtimeMs } = await stat(file));
      } catch {
        sendPlain(res, 404, "not found");
        return;
      }
      const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
      const compressible = COMPRESSIBLE.test(type) && size <= MAX_COMPRESSED_FILE_BYTES;
      const encoding = compressible ? chooseEncoding(req.headers["accept-encoding"]) : undefined;
      let body: Buffer | undefined;
      if (encoding !== undefined) {
        try {
          body = await compressedCopy(file, size, mtimeMs, encoding);
        } catch {
          body = undefined; // serve it as it is
        }
      }
      setSecurityHeaders(res);
      res.setHeader("content-type", type);
      if (compressible) res.setHeader("vary", "accept-encoding");
      if (body !== undefined && encoding !== undefined) {
        res.setHeader("content-encoding", encoding);
        res.setHeader("content-length", String(body.length));
      } else {
        res.setHeader("content-length", String(size));
      }
      // Content-hashed build assets never change under their name, so browsers may keep them;
      // everything else (the app shell above all) is revalidated, so an upgrade is never stale.
      res.setHeader("cache-control", HASHED_ASSET.test(urlPath) ? IMMUTABLE_CACHE : "no-cache");
      res.writeHead(200);
      if (body !== undefined) {
        if (method === "HEAD") res.end();
        else res.end(body);
        return;
      }
      if (method === "HEAD") {
        res.end();
        return;
      }
      const stream = createReadStream(file);
      stream.on("error", () => res.destroy());
      stream.pipe(res as NodeJS.WritableStream);
    },
  };
}
