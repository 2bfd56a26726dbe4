// Benchmark (a script, not a test): the built web app's JavaScript size (raw and gzip), and in
// headless Chromium against a local relay (real SQLite in a temp dir), the time from page load
// to a joined room ready to send, for a first-time visitor opening an invite link.
//
// Owns: the measurement and the printed table. Builds the app into a temp directory, so it
// never touches web/dist. Runs are bounded by --runs.
//
//   node --import tsx bench/web-load.ts [--runs N]
//   npm run bench:web -- --runs 5

import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import {
  buildWebApp,
  chooseName,
  createRoom,
  launchChromium,
  startRestartableRelay,
  STEP_TIMEOUT_MS,
} from "../web/e2e/harness.js";
import { median } from "./bench-args.js";
import { finishReport } from "./report.js";
import { formatNumber } from "./stats.js";

/** Default measured joins: enough for a median on a shared 2-core machine. */
const DEFAULT_RUNS = 3;
/** Upper bound on --runs: each run creates an identity and joins a room (seconds each). */
const MAX_RUNS = 20;

const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: "string" }, size: { type: "string" } } });
  if (values.size !== undefined && values.size !== "quick" && values.size !== "full") {
    process.stderr.write("--size must be quick or full\n");
    process.exit(2);
  }
  const runs = values.runs === undefined ? (values.size === "quick" ? 1 : DEFAULT_RUNS) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > MAX_RUNS) {
    process.stderr.write(`--runs must be an integer from 1 to ${MAX_RUNS}\n`);
    process.exit(2);
  }

  const work = await mkdtemp(join(tmpdir(), "securecomm-bench-web-"));
  const staticDir = join(work, "dist");
  const dataDir = join(work, "relay");
  await mkdir(dataDir);
  try {
    const buildStart = performance.now();
    await buildWebApp(staticDir);
    const buildMs = performance.now() - buildStart;

    let raw = 0;
    let gzip = 0;
    let files = 0;
    for (const name of await readdir(join(staticDir, "assets"))) {
      if (!name.endsWith(".js")) continue;
      const bytes = await readFile(join(staticDir, "assets", name));
      raw += bytes.length;
      gzip += gzipSync(bytes, { level: 9 }).length;
      files += 1;
    }

    const relay = await startRestartableRelay({ dataDir, staticDir });
    const browser = await launchChromium();
    const interactive: number[] = [];
    const joined: number[] = [];
    const welcomed: number[] = [];
    try {
      const owner = await browser.newContext();
      const ownerPage = await owner.newPage();
      ownerPage.setDefaultTimeout(STEP_TIMEOUT_MS);
      await ownerPage.goto(relay.url);
      await chooseName(ownerPage, "Owner");
      const invite = await createRoom(ownerPage, "Bench room");

      for (let i = 0; i < runs; i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        page.setDefaultTimeout(STEP_TIMEOUT_MS);
        const start = performance.now();
        await page.goto(invite);
        await page.getByLabel("Your display name").waitFor();
        interactive.push(performance.now() - start);
        await chooseName(page, `Guest ${i + 1}`);
        await page.getByRole("button", { name: "Join room" }).click();
        // Ready to send: the room is on screen and its composer is enabled.
        await page.waitForFunction(() => {
          const box = document.querySelector<HTMLTextAreaElement>("#composer-input");
          return box !== null && !box.disabled;
        });
        joined.push(performance.now() - start);
        // Welcomed: a member's device answered the join (the roster shows someone else).
        await page.waitForFunction(() => document.querySelectorAll("[data-testid=member]").length > 1);
        welcomed.push(performance.now() - start);
        await context.close();
      }
      await owner.close();
    } finally {
      await browser.close();
      await relay.stop();
    }

    const rows: Array<[string, string]> = [
      ["vite build", `${(buildMs / 1000).toFixed(1)} s`],
      [`JavaScript (${files} files) raw`, kib(raw)],
      [`JavaScript (${files} files) gzip -9`, kib(gzip)],
      [`page load → welcome form (median of ${runs})`, `${median(interactive).toFixed(0)} ms`],
      [`page load → joined room ready to send (median of ${runs})`, `${median(joined).toFixed(0)} ms`],
      ["  individual joins", joined.map((ms) => `${ms.toFixed(0)} ms`).join(", ")],
      [`page load → welcomed by a member (median of ${runs})`, `${median(welcomed).toFixed(0)} ms`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write("SecureComm web app (first-time visitor opening an invite link, incl. identity creation)\n");
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
    const spreadNote = (xs: number[]): string => `median of ${runs}: ${xs.map((ms) => formatNumber(ms)).join(", ")} ms`;
    finishReport({
      benchmark: "web app",
      setup: `the built app (vite, into a temp dir) served by a local relay; headless Chromium, a first-time visitor opening an invite link (identity creation included), ${runs} run(s); no goal is set for these figures`,
      figures: [
        { name: "JavaScript, raw", value: raw / 1024, unit: "KiB", note: `${files} files` },
        { name: "JavaScript, gzip -9", value: gzip / 1024, unit: "KiB" },
        { name: "page load → welcome form", value: median(interactive), unit: "ms", note: spreadNote(interactive) },
        { name: "page load → joined room ready to send", value: median(joined), unit: "ms", note: spreadNote(joined) },
        { name: "page load → welcomed by a member", value: median(welcomed), unit: "ms", note: spreadNote(welcomed) },
      ],
      series: [],
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:web failed: ${error instanceof Error ? error.message : "unknown error"}\n`);
  process.exit(1);
});
