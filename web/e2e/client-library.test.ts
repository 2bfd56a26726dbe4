// The client library itself in real headless Chromium (issue 3): bundles
// web/e2e/client-library-page.ts (product code from client/ only) with Vite's JS API into a
// temporary directory, serves it from 127.0.0.1 (a secure context, so crypto.subtle exists),
// and runs a full PQXDH + Double Ratchet session, a sender-key exchange and tamper checks in
// the page. Every plaintext is compared inside the page; the summary is checked here. Runs
// twice: with the crypto paths client/crypto picks in this Chromium (reported), and with
// WebCrypto's X25519 and Ed25519 hidden so the noble fallbacks carry the same scenario. Also
// checks from Vite's module list that the bundle holds no libsignal and no test support.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BURSTS,
  GROUP_MESSAGES,
  OUT_OF_ORDER_BURST,
  type ProtocolSummary,
} from "./client-library-page.js";
import { launchChromium, openPage, STEP_TIMEOUT_MS } from "./harness.js";

const entry = fileURLToPath(new URL("./client-library-page.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The bundle's file name (IIFE, so the page needs no module loader). */
const BUNDLE = "client-library.js";

/** A page with nothing but the bundle: no inline script, under a strict CSP. */
const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>client library</title>
<script src="/${BUNDLE}"></script></head><body></body></html>`;

let work: string;
let server: Server;
let browser: Browser;
/** Every module Vite put into the bundle (absolute paths). */
let bundledModules: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "securecomm-client-library-"));
  const result = await build({
    configFile: false,
    root: repoRoot,
    logLevel: "warn",
    // Bundled libraries may read process.env.NODE_ENV; a browser has no `process`.
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
    build: {
      outDir: work,
      emptyOutDir: true,
      minify: false,
      sourcemap: false,
      reportCompressedSize: false,
      lib: { entry, formats: ["iife"], name: "SecureCommClientLibrary", fileName: () => BUNDLE },
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  bundledModules = outputs.flatMap((o) => ("output" in o ? o.output.flatMap((chunk) => ("moduleIds" in chunk ? chunk.moduleIds : [])) : []));
  const script = await readFile(join(work, BUNDLE));
  server = createServer((req, res) => {
    const headers = { "Content-Security-Policy": "default-src 'none'; script-src 'self'", "Cache-Control": "no-store" };
    if (req.url === `/${BUNDLE}`) {
      res.writeHead(200, { ...headers, "Content-Type": "text/javascript; charset=utf-8" }).end(script);
    } else if (req.url === "/") {
      res.writeHead(200, { ...headers, "Content-Type": "text/html; charset=utf-8" }).end(PAGE_HTML);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * Runs in the page before the bundle: makes WebCrypto refuse X25519 and Ed25519 (as a browser
 * without them would), so client/crypto's probes fail and the noble fallbacks run.
 */
function hideCurveWebCrypto(): void {
  const unsupported = (algorithm: unknown): boolean => {
    const name = typeof algorithm === "string" ? algorithm : (algorithm as { name?: unknown } | null)?.name;
    return typeof name === "string" && /^(x25519|ed25519)$/i.test(name);
  };
  const proto = SubtleCrypto.prototype as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [method, at] of [["importKey", 2], ["generateKey", 0]] as const) {
    const original = proto[method] as (...args: unknown[]) => Promise<unknown>;
    proto[method] = function (this: SubtleCrypto, ...args: unknown[]) {
      if (unsupported(args[at])) return Promise.reject(new DOMException("Algorithm: Unrecognized name", "NotSupportedError"));
      return original.apply(this, args);
    };
  }
}

/** Opens the page in a fresh context (with `initScript` run first, if any) and runs the protocol. */
async function runInPage(initScript?: () => void): Promise<ProtocolSummary> {
  const context = await browser.newContext();
  try {
    if (initScript !== undefined) await context.addInitScript(initScript);
    const { port } = server.address() as AddressInfo;
    const app = await openPage(context, `http://127.0.0.1:${port}/`);
    await app.page.waitForFunction(() => typeof window.runProtocol === "function", undefined, { timeout: STEP_TIMEOUT_MS });
    const summary = await app.page.evaluate(() => (window.runProtocol as () => Promise<ProtocolSummary>)());
    expect(app.pageErrors).toEqual([]);
    expect(app.cspViolations).toEqual([]);
    return summary;
  } finally {
    await context.close();
  }
}

/** Everything the scenario must show, whichever crypto path ran. */
function expectProtocolWorked(summary: ProtocolSummary): void {
  expect(summary.secureContext).toBe(true);

  // Pairwise: the PreKey opener plus every burst, each decrypting to what was sent.
  const total = 1 + BURSTS.reduce((a, b) => a + b, 0);
  expect(summary.pairwise.sent).toBe(total);
  expect(summary.pairwise.matched).toBe(total);
  expect(summary.pairwise.mismatched).toBe(0);
  expect(summary.pairwise.firstMessageType).toBe(3);
  expect(summary.pairwise.oneTimePreKeyRemoved).toBe(true);
  expect(summary.pairwise.kyberPreKeyRemoved).toBe(true);
  expect(summary.pairwise.signedPreKeyKept).toBe(true);
  // Alice sends PreKey messages until Bob's first reply reaches her: the opener and nothing
  // else, because Bob speaks first after it.
  expect(summary.pairwise.preKeyMessages).toBe(1);
  expect(summary.pairwise.signalMessages).toBe(total - 1);
  // Bob's bursts are the even ones, Alice's the odd ones (plus her opener). Each burst after
  // a change of direction starts a fresh ratchet key (a DH ratchet step).
  const bobBursts = BURSTS.filter((_, i) => i % 2 === 0).length;
  const aliceBursts = BURSTS.filter((_, i) => i % 2 === 1).length;
  expect(summary.pairwise.bobRatchetKeys).toBe(bobBursts);
  expect(summary.pairwise.aliceRatchetKeys).toBe(aliceBursts + 1);
  expect(summary.pairwise.deliveredOutOfOrder).toBe((BURSTS[OUT_OF_ORDER_BURST] as number) - 1);

  // Sender keys: SKDM over the session, every group message once, the skipped one late.
  expect(summary.group.skdmOverSession).toBe(true);
  expect(summary.group.sent).toBe(GROUP_MESSAGES);
  expect(summary.group.matched).toBe(GROUP_MESSAGES);
  expect(summary.group.mismatched).toBe(0);
  expect(summary.group.skippedIterationDeliveredLate).toBe(true);
  expect(summary.group.duplicateCode).toBe("duplicate_message");

  // Tamper: typed errors, and the untouched originals still decrypt (no state changed).
  expect(summary.tamper.pairwiseErrorName).toBe("ProtocolError");
  expect(summary.tamper.pairwiseCode).toBe("bad_mac");
  expect(summary.tamper.pairwiseOriginalDecrypted).toBe(true);
  expect(summary.tamper.groupCode).toBe("invalid_signature");
  expect(summary.tamper.groupOriginalDecrypted).toBe(true);
}

describe("the client library in Chromium (issue 3)", () => {
  it("the bundle holds product code only (no libsignal, no test support)", () => {
    const relative = bundledModules.map((id) => id.replaceAll("\\", "/").replace(repoRoot.replaceAll("\\", "/"), ""));
    expect(relative).toContain("web/e2e/client-library-page.ts");
    expect(relative.some((id) => id.startsWith("client/session/"))).toBe(true);
    expect(relative.filter((id) => /@signalapp|libsignal|test-support|\.test\./.test(id))).toEqual([]);
    // Outside node_modules, only client/ product code and the page entry itself.
    const ours = relative.filter((id) => !id.includes("node_modules/"));
    expect(ours.filter((id) => !id.startsWith("client/") && !id.startsWith("gen/") && id !== "web/e2e/client-library-page.ts")).toEqual([]);
  });

  it("runs a full session, a sender-key exchange and tamper checks with the runtime's own crypto paths", async () => {
    const summary = await runInPage();
    expectProtocolWorked(summary);
    // Either path is valid; the summary must name the one client/crypto chose.
    expect(["webcrypto", "noble"]).toContain(summary.paths.x25519);
    expect(["webcrypto", "noble"]).toContain(summary.paths.ed25519Verify);
    expect(typeof summary.paths.jwkImportChecksPublicKey).toBe("boolean");
    console.info(
      `client library in Chromium: X25519 ${summary.paths.x25519}, Ed25519 verify ${summary.paths.ed25519Verify}, ` +
        `JWK import checks public half: ${summary.paths.jwkImportChecksPublicKey}`,
    );
  });

  it("runs the same on the noble fallbacks when WebCrypto lacks X25519 and Ed25519", async () => {
    const summary = await runInPage(hideCurveWebCrypto);
    expect(summary.paths).toEqual({ x25519: "noble", ed25519Verify: "noble", jwkImportChecksPublicKey: false });
    expectProtocolWorked(summary);
  });
});
