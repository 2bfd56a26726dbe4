// One active tab per browser profile, in real headless Chromium against a real relay serving
// the built app (web/src/lib/active-tab.ts). Two pages in ONE browser context share one
// IndexedDB database: the second shows "SecureComm is open in another tab" and runs no client
// (it sends the relay nothing, and the relay's open Subscribe streams do not grow); "Use here"
// takes over, the first page stops its client and shows the notice, and the invite the second
// page was opened with is still offered, joined, and used to talk to a member in another context.
// Handing back works the same way, and a waiting tab starts by itself once the running one closes.
//
// One scenario in steps: each `it` builds on the one before (vitest runs them in order).

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildWebApp,
  chooseName,
  createRoom,
  launchChromium,
  openPage,
  sendMessage,
  startRestartableRelay,
  STEP_TIMEOUT_MS,
  waitForConnection,
  waitForMembers,
  waitForMessage,
  type AppPage,
  type RestartableRelay,
} from "./harness.js";

const ROOM_NAME = "Tab hand-over";
const NOTICE = "SecureComm is open in another tab";
const FROM_SECOND_TAB = "Written in the tab that took over.";
const FROM_BOB = "Received in the tab that took over.";
/** Every relay RPC path starts with this (Connect: /package.Service/Method). */
const RPC_PATH = "/securecomm.relay.v1.";
const SUBSCRIBE_PATH = "/securecomm.relay.v1.MessageService/Subscribe";

let work: string;
let relay: RestartableRelay;
let browser: Browser;
let aliceProfile: BrowserContext;
let bobProfile: BrowserContext;
let bob: AppPage;
let firstTab: AppPage;
let secondTab: AppPage;
let invite: string;

/** Relay RPCs each page sent, and which of its Subscribe requests are still open. */
const rpcs = new Map<Page, string[]>();
const openSubscribes = new Map<Page, Set<object>>();

/** Records every relay RPC of every page of `context`, from before the page's first request. */
function recordRpcs(context: BrowserContext): void {
  context.on("request", (request) => {
    const page = request.frame().page();
    const path = new URL(request.url()).pathname;
    if (!path.startsWith(RPC_PATH)) return;
    rpcs.set(page, [...(rpcs.get(page) ?? []), path]);
    if (path === SUBSCRIBE_PATH) {
      const open = openSubscribes.get(page) ?? new Set<object>();
      open.add(request);
      openSubscribes.set(page, open);
    }
  });
  const ended = (request: object & { frame(): { page(): Page } }) => openSubscribes.get(request.frame().page())?.delete(request);
  context.on("requestfinished", ended);
  context.on("requestfailed", ended);
}

/** Polls `check` (a condition in this process, e.g. the relay's metrics) until it holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what} (${streamCounts()})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Open Subscribe streams as the relay and as each page's browser see them (for failure messages). */
function streamCounts(): string {
  const pages = [["Bob", bob], ["first tab", firstTab], ["second tab", secondTab]] as const;
  const perPage = pages.map(([name, p]) => `${name} ${p ? (openSubscribes.get(p.page)?.size ?? 0) : "-"}`).join(", ");
  return `relay ${relay.openSubscribeStreams()}; browser: ${perPage}`;
}

/** True when `page` shows the notice and nothing of the running app. */
async function showsOnlyNotice(page: Page): Promise<boolean> {
  await page.getByRole("heading", { level: 1, name: NOTICE }).waitFor();
  const appControls =
    (await page.getByRole("button", { name: "Settings" }).count()) +
    (await page.getByLabel("Message", { exact: true }).count()) +
    (await page.getByRole("button", { name: "Join room" }).count());
  return appControls === 0 && (await page.getByRole("button", { name: "Use here" }).isVisible());
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "securecomm-web-tabs-"));
  const staticDir = join(work, "dist");
  const dataDir = join(work, "relay");
  await mkdir(dataDir);
  await buildWebApp(staticDir);
  relay = await startRestartableRelay({ dataDir, staticDir });
  browser = await launchChromium();
  aliceProfile = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  bobProfile = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  recordRpcs(aliceProfile);
  recordRpcs(bobProfile);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Per-step limit: several page waits of up to STEP_TIMEOUT_MS each on two shared cores. */
const STEP_LIMIT_MS = 90_000;

describe("one active tab per browser profile, in Chromium", { timeout: STEP_LIMIT_MS }, () => {
  it("runs the client in the first tab of a profile", async () => {
    bob = await openPage(bobProfile, relay.url);
    await chooseName(bob.page, "Bob");
    invite = await createRoom(bob.page, ROOM_NAME);
    await bob.page.getByRole("button", { name: "Done" }).click();
    firstTab = await openPage(aliceProfile, relay.url);
    await chooseName(firstTab.page, "Alice");
    await waitForConnection(firstTab.page, "online");
    await until(() => relay.openSubscribeStreams() === 2, "Bob's and Alice's Subscribe streams");
    expect(openSubscribes.get(firstTab.page)?.size).toBe(1);
  });

  it("shows the notice in a second tab of the same profile, which runs no client", async () => {
    secondTab = await openPage(aliceProfile, invite);
    expect(await showsOnlyNotice(secondTab.page)).toBe(true);
    // The invite was read and removed from the address bar before anything else, and is kept.
    expect(await secondTab.page.evaluate(() => window.location.hash)).toBe("");
    await secondTab.page.getByText("The invite you opened will be offered here once you switch.").waitFor();
    // No client: not one relay request from this page, and still two streams at the relay.
    expect(rpcs.get(secondTab.page) ?? []).toEqual([]);
    expect(relay.openSubscribeStreams()).toBe(2);
    // The first tab is untouched.
    await firstTab.page.getByRole("button", { name: "Settings" }).waitFor();
    await waitForConnection(firstTab.page, "online");
  });

  it("takes over with Use here: the first tab stops its client and shows the notice", async () => {
    await secondTab.page.getByRole("button", { name: "Use here" }).click();
    // The invite survived the wait: the join confirmation is the first thing shown.
    await secondTab.page.getByRole("heading", { level: 1, name: "Join this room?" }).waitFor();
    expect(await showsOnlyNotice(firstTab.page)).toBe(true);
    // The first tab's Subscribe stream ended; the second tab's is the only one of this profile.
    await until(() => openSubscribes.get(firstTab.page)?.size === 0, "the first tab's Subscribe stream to end");
    await until(() => openSubscribes.get(secondTab.page)?.size === 1, "the second tab's Subscribe stream");
    await until(() => relay.openSubscribeStreams() === 2, "Bob's and the second tab's Subscribe streams");
  });

  it("joins from the kept invite in the second tab and talks to a member in another profile", async () => {
    const firstTabRpcs = (rpcs.get(firstTab.page) ?? []).length;
    await secondTab.page.getByRole("button", { name: "Join room" }).click();
    await secondTab.page.getByRole("heading", { level: 1, name: ROOM_NAME }).waitFor();
    await waitForMembers(secondTab.page, ["Alice (you)", "Bob"]);
    await waitForMembers(bob.page, ["Bob (you)", "Alice"]);
    await sendMessage(secondTab.page, FROM_SECOND_TAB);
    await waitForMessage(bob.page, FROM_SECOND_TAB);
    await sendMessage(bob.page, FROM_BOB);
    await waitForMessage(secondTab.page, FROM_BOB);
    // The stopped tab sent nothing more to the relay and shows no message.
    expect((rpcs.get(firstTab.page) ?? []).length).toBe(firstTabRpcs);
    expect(await firstTab.page.locator("[data-testid=message]").count()).toBe(0);
    // Joining re-subscribes (the new room is followed): the replaced stream ends at the relay.
    await until(() => relay.openSubscribeStreams() === 2, "Bob's and the second tab's Subscribe streams after the join");
  });

  it("hands back with Use here in the first tab", async () => {
    await firstTab.page.getByRole("button", { name: "Use here" }).click();
    await firstTab.page.getByRole("button", { name: `${ROOM_NAME}, 2 members` }).waitFor();
    expect(await showsOnlyNotice(secondTab.page)).toBe(true);
    await until(() => openSubscribes.get(secondTab.page)?.size === 0, "the second tab's Subscribe stream to end");
    await waitForConnection(firstTab.page, "online");
    await until(() => relay.openSubscribeStreams() === 2, "Bob's and the first tab's Subscribe streams");
  });

  it("starts by itself in the waiting tab once the running tab is closed", async () => {
    await firstTab.page.close();
    // The invite was used: the home screen shows, not the join confirmation again.
    await secondTab.page.getByRole("button", { name: `${ROOM_NAME}, 2 members` }).waitFor();
    expect(await secondTab.page.getByRole("button", { name: "Join room" }).count()).toBe(0);
    await waitForConnection(secondTab.page, "online");
    await until(() => relay.openSubscribeStreams() === 2, "Bob's and the second tab's Subscribe streams");
  });

  it("comes back running after a reload of the only tab, and broke no CSP rule", async () => {
    await secondTab.page.reload();
    await secondTab.page.getByRole("button", { name: `${ROOM_NAME}, 2 members` }).waitFor();
    await waitForConnection(secondTab.page, "online");
    await until(() => relay.openSubscribeStreams() === 2, "Bob's and the reloaded tab's Subscribe streams");
    for (const p of [bob, firstTab, secondTab]) {
      expect(p.cspViolations).toEqual([]);
      expect(p.pageErrors).toEqual([]);
    }
  });
});
