/**
 * Drives the built web app in real headless Chromium against a real relay: building the app,
 * a relay that can stop and start again on the same port and data directory, launching
 * Debian's Chromium through playwright-core, and the user's steps as functions.
 *
 * Owns: helpers shared by the browser tests (web/e2e/*.test.ts) and the web benchmark
 * (bench/web-load.ts). Never imported by product code.
 */

import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startRelayServer, type RelayServer } from "../../relay/server.js";
import { openRelay, type Relay } from "../../relay/services/index.js";

/** Debian's Chromium (`.ci/run` installs it); override with CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Flags for a calm headless Chromium on a shared machine (TOOLCHAIN.md, Browser). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * How long one user-visible step may take before the test fails. Generous: the machine has two
 * shared cores and each join runs PQXDH with Kyber1024 in the page.
 */
export const STEP_TIMEOUT_MS = 30_000;

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Builds the web app with Vite into `outDir` (a temporary directory in tests). */
export async function buildWebApp(outDir: string): Promise<void> {
  const vite = join(repoRoot, "node_modules", "vite", "bin", "vite.js");
  const child = spawn(process.execPath, [vite, "build", "web", "--outDir", outDir, "--emptyOutDir", "--logLevel", "warn"], {
    cwd: repoRoot,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`vite build failed (${code}): ${stderr.slice(0, 2000)}`);
}

/** A relay that can be stopped and started again on the same port and data directory. */
export interface RestartableRelay {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * Subscribe streams open right now, from the relay's own metrics (opened minus ended since
   * the last start); 0 while stopped.
   */
  openSubscribeStreams(): number;
}

/** Sums every sample of `metric` (all label sets) in a Prometheus text exposition. */
export function sumMetric(exposition: string, metric: string): number {
  let total = 0;
  for (const line of exposition.split("\n")) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

/** Starts a real relay (SQLite in `dataDir`) serving `staticDir`, on `port` (0: any free one). */
export async function startRestartableRelay(options: { dataDir: string; staticDir: string; port?: number }): Promise<RestartableRelay> {
  let port = options.port ?? 0;
  let running: { relay: Relay; server: RelayServer } | undefined;
  const start = async (): Promise<void> => {
    if (running) return;
    const relay = await openRelay({ dataDir: options.dataDir, logLevel: "silent" });
    try {
      const server = await startRelayServer({ relay, host: "127.0.0.1", port, staticDir: options.staticDir, shutdownGraceMs: 500 });
      port = server.port;
      running = { relay, server };
    } catch (error) {
      await relay.close();
      throw error;
    }
  };
  await start();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dataDir: options.dataDir,
    start,
    openSubscribeStreams() {
      if (!running) return 0;
      const text = running.relay.renderMetrics();
      return sumMetric(text, "securecomm_relay_streams_opened_total") - sumMetric(text, "securecomm_relay_streams_closed_total");
    },
    async stop() {
      const r = running;
      running = undefined;
      if (!r) return;
      await r.server.close();
      await r.relay.close();
    },
  };
}

/** Launches headless Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** A page of the app plus what it logged about blocked content. */
export interface AppPage {
  readonly page: Page;
  /** Console errors mentioning the Content Security Policy (must stay empty). */
  readonly cspViolations: string[];
  /** Uncaught page errors (must stay empty). */
  readonly pageErrors: string[];
}

/** Opens `url` in a new page of `context`, recording CSP violations and page errors. */
export async function openPage(context: BrowserContext, url: string): Promise<AppPage> {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on("pageerror", (e) => pageErrors.push(e.name));
  await page.goto(url);
  return { page, cspViolations, pageErrors };
}

/** First visit: choose a display name and wait until the app is ready. */
export async function chooseName(page: Page, name: string): Promise<void> {
  await page.getByLabel("Your display name").fill(name);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Settings" }).waitFor();
}

/** Creates a room from the home screen and returns its invite link (read from the share panel). */
export async function createRoom(page: Page, name: string): Promise<string> {
  await page.getByLabel("Room name").fill(name);
  await page.getByRole("button", { name: "Create room" }).click();
  const field = page.locator("#invite-field");
  await field.waitFor();
  return field.inputValue();
}

/** Opens an invite link in `page`, chooses a name if this is a first visit, confirms, waits for the room. */
export async function joinByLink(page: Page, link: string, name: string | undefined, roomName: string): Promise<void> {
  await page.goto(link);
  if (name !== undefined) await chooseName(page, name);
  await page.getByRole("button", { name: "Join room" }).click();
  await page.getByRole("heading", { level: 1, name: roomName }).waitFor();
}

/** Types `text` in the composer and presses Enter; waits until the relay ordered it. */
export async function sendMessage(page: Page, text: string): Promise<void> {
  const box = page.getByLabel("Message", { exact: true });
  await box.fill(text);
  await box.press("Enter");
  await page.waitForFunction(
    (t) =>
      Array.from(document.querySelectorAll<HTMLElement>("[data-testid=message]")).some(
        (m) => m.dataset.status === "sent" && m.querySelector(".bubble-text")?.textContent === t,
      ),
    text,
    { timeout: STEP_TIMEOUT_MS },
  );
}

/** Waits until a message with exactly `text` shows in the room on screen. */
export async function waitForMessage(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (t) => Array.from(document.querySelectorAll("[data-testid=message] .bubble-text")).some((e) => e.textContent === t),
    text,
    { timeout: STEP_TIMEOUT_MS },
  );
}

/** The display names in the member list on screen. */
export async function memberNames(page: Page): Promise<string[]> {
  return page.locator("[data-testid=member] .member-name").allTextContents();
}

/** Waits until the member list shows exactly `names` (in any order; "(you)" marks self). */
export async function waitForMembers(page: Page, names: readonly string[]): Promise<void> {
  await page.waitForFunction(
    (want) => {
      const have = Array.from(document.querySelectorAll("[data-testid=member] .member-name")).map((e) => e.textContent ?? "");
      return have.length === want.length && want.every((n) => have.includes(n));
    },
    [...names],
    { timeout: STEP_TIMEOUT_MS },
  );
}

/** Waits until the connection badge shows `state`. */
export async function waitForConnection(page: Page, state: "online" | "connecting" | "offline" | "not-online"): Promise<void> {
  await page.waitForFunction(
    (want) => {
      const s = document.querySelector<HTMLElement>(".connection")?.dataset.state;
      return want === "not-online" ? s !== undefined && s !== "online" : s === want;
    },
    state,
    { timeout: STEP_TIMEOUT_MS },
  );
}

/** Opens the verify screen for `memberName` from the room and returns the 60 digits shown. */
export async function readSafetyNumber(page: Page, memberName: string): Promise<string> {
  await page.getByRole("button", { name: `Verify ${memberName}` }).click();
  const list = page.getByTestId("safety-number");
  await list.waitFor();
  const groups = await list.locator("li").allTextContents();
  return groups.join("");
}

/**
 * Everything the page's origin keeps in browser storage, as text to search: every IndexedDB
 * database (keys and values, bytes as Latin-1 so ASCII plaintext would show), localStorage,
 * sessionStorage and Cache Storage.
 */
export async function dumpBrowserStorage(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const out: string[] = [];
    const text = (v: unknown): string => {
      if (v instanceof Uint8Array || v instanceof ArrayBuffer) {
        const b = v instanceof Uint8Array ? v : new Uint8Array(v);
        let s = "";
        for (const x of b) s += String.fromCharCode(x);
        return s;
      }
      if (typeof v === "string") return v;
      try {
        return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? text(x) : x));
      } catch {
        return String(v);
      }
    };
    const req = <T,>(r: IDBRequest<T>) =>
      new Promise<T>((res, rej) => {
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
    for (const info of await indexedDB.databases()) {
      if (info.name === undefined) continue;
      out.push(`idb:${info.name}`);
      const db = await req(indexedDB.open(info.name));
      for (const storeName of Array.from(db.objectStoreNames)) {
        const tx = db.transaction(storeName, "readonly");
        const store = tx.objectStore(storeName);
        const [keys, values] = await Promise.all([req(store.getAllKeys()), req(store.getAll())]);
        keys.forEach((k, i) => out.push(`${text(k)}=${text(values[i])}`));
      }
      db.close();
    }
    for (const s of [localStorage, sessionStorage]) {
      for (let i = 0; i < s.length; i++) {
        const k = s.key(i) ?? "";
        out.push(`ls:${k}=${s.getItem(k) ?? ""}`);
      }
    }
    if ("caches" in globalThis) {
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const r of await cache.keys()) out.push(`cache:${r.url}=${(await (await cache.match(r))?.text()) ?? ""}`);
      }
    }
    return out.join("\n");
  });
}

/** Every byte under `dir` (the relay's SQLite database, WAL and trust files), concatenated. */
export async function readAllBytes(dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    parts.push(await readFile(join(entry.parentPath, entry.name)));
  }
  return Buffer.concat(parts);
}

/** What one `securecomm` CLI run printed and how it ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Longest one CLI command may run in a test (it starts tsx, opens its store, talks to the relay). */
export const CLI_TIMEOUT_MS = 90_000;

/**
 * Runs `node bin/securecomm.mjs ARGS --relay URL --home HOME` with a passphrase from the
 * environment; resolves when it exits (killed after {@link CLI_TIMEOUT_MS}).
 */
export function runCli(args: readonly string[], options: { relayUrl: string; home: string }): Promise<CliResult> {
  const child = spawn(process.execPath, [join(repoRoot, "bin", "securecomm.mjs"), ...args, "--relay", options.relayUrl, "--home", options.home], {
    cwd: repoRoot,
    env: { ...process.env, SECURECOMM_PASSPHRASE: "correct horse battery staple (test only)" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), CLI_TIMEOUT_MS);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}
