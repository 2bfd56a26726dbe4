// End to end in real headless Chromium against a real relay (real HTTP, real SQLite) serving
// the built app: create, share, join, chat both ways, a third member, typing, safety numbers,
// leave, reload, relay restart with automatic reconnect; then no browser storage and no relay
// byte holds any plaintext used here. Writes test-results/room-view.png.
//
// One scenario in steps: each `it` builds on the one before (vitest runs them in order).

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildWebApp,
  chooseName,
  createRoom,
  dumpBrowserStorage,
  joinByLink,
  launchChromium,
  openPage,
  readAllBytes,
  readSafetyNumber,
  runCli,
  sendMessage,
  startRestartableRelay,
  waitForConnection,
  waitForMembers,
  waitForMessage,
  type AppPage,
  type RestartableRelay,
} from "./harness.js";

/** Every plaintext typed in this test; none may appear in any stored byte. */
const PLAINTEXTS = {
  aliceHello: "Hi Bob! Are we still on for the lake this Saturday?",
  bobReply: "Absolutely, I will bring the blue kayak and sandwiches.",
  carolHi: "Mind if I join you two? I can drive us there.",
  typingDraft: "half-typed draft about the secret picnic spot",
  afterLeave: "Carol had to go, so it is just the two of us now.",
  daveHello: "Hello from Dave, just passing through.",
  afterRemove: "Dave is out of the room now, this one is only for Bob.",
  afterReload: "Did your page come back after the reload?",
  afterRestart: "The relay blinked, but we are still talking.",
  cliHello: "Eve here, typing from a terminal.",
  toCli: "Welcome Eve, the terminal works fine.",
  aliceLong: "Let's meet at the old station at ten, then walk along the river to the lake.",
} as const;
const ROOM_NAME = "Weekend plans";

let work: string;
let relay: RestartableRelay;
let browser: Browser;
const contexts: BrowserContext[] = [];
let alice: AppPage;
let bob: AppPage;
let carol: AppPage;
let dave: AppPage;
let invite: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "securecomm-web-e2e-"));
  const staticDir = join(work, "dist");
  const dataDir = join(work, "relay");
  await mkdir(dataDir);
  await buildWebApp(staticDir);
  relay = await startRestartableRelay({ dataDir, staticDir });
  browser = await launchChromium();
  for (let i = 0; i < 4; i++) contexts.push(await browser.newContext({ viewport: { width: 1100, height: 760 } }));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * Per-step limit: each step waits on page conditions (at most STEP_TIMEOUT_MS each), and CI
 * runs other test files beside this one on two cores, so allow several slow waits per step.
 */
const STEP_LIMIT_MS = 120_000;
/** The CLI step starts four Node processes (tsx, passphrase KDF, catch-up) one after another. */
const CLI_STEP_LIMIT_MS = 240_000;

describe("the web app in Chromium", { timeout: STEP_LIMIT_MS }, () => {
  it("creates a room and shows a shareable invite link with the secret in the fragment", async () => {
    alice = await openPage(contexts[0]!, relay.url);
    await chooseName(alice.page, "Alice");
    invite = await createRoom(alice.page, ROOM_NAME);
    expect(invite.startsWith(`${relay.url}/#join=`)).toBe(true);
    await waitForConnection(alice.page, "online");
  });

  it("joins from the link after one confirmation and removes the fragment from the address bar", async () => {
    bob = await openPage(contexts[1]!, "about:blank");
    await joinByLink(bob.page, invite, "Bob", ROOM_NAME);
    expect(bob.page.url()).not.toContain("#join");
    expect(await bob.page.evaluate(() => window.location.hash)).toBe("");
    await waitForMembers(bob.page, ["Bob (you)", "Alice"]);
    await waitForMembers(alice.page, ["Alice (you)", "Bob"]);
  });

  it("chats both ways", async () => {
    await sendMessage(alice.page, PLAINTEXTS.aliceHello);
    await waitForMessage(bob.page, PLAINTEXTS.aliceHello);
    await sendMessage(bob.page, PLAINTEXTS.bobReply);
    await waitForMessage(alice.page, PLAINTEXTS.bobReply);
    const senders = await bob.page.locator(".message-group .sender").allTextContents();
    expect(senders).toEqual(["Alice", "You"]);
  });

  it("lets a third person join and talk to both", async () => {
    carol = await openPage(contexts[2]!, "about:blank");
    await joinByLink(carol.page, invite, "Carol", ROOM_NAME);
    for (const p of [alice, bob]) await waitForMembers(p.page, [p === alice ? "Alice (you)" : "Bob (you)", p === alice ? "Bob" : "Alice", "Carol"]);
    await waitForMembers(carol.page, ["Carol (you)", "Alice", "Bob"]);
    await sendMessage(carol.page, PLAINTEXTS.carolHi);
    await waitForMessage(alice.page, PLAINTEXTS.carolHi);
    await waitForMessage(bob.page, PLAINTEXTS.carolHi);
  });

  it("shows a typing indicator", async () => {
    await bob.page.getByLabel("Message", { exact: true }).fill(PLAINTEXTS.typingDraft);
    await alice.page.waitForFunction(() => document.querySelector("[data-testid=typing]")?.textContent === "Bob is typing…");
    await bob.page.getByLabel("Message", { exact: true }).fill("");
    await alice.page.waitForFunction(() => document.querySelector("[data-testid=typing]")?.textContent === "");
  });

  it("shows matching safety numbers in both browsers, and marks verified", async () => {
    const seenByAlice = await readSafetyNumber(alice.page, "Bob");
    const seenByBob = await readSafetyNumber(bob.page, "Alice");
    expect(seenByAlice).toMatch(/^[0-9]{60}$/);
    expect(seenByBob).toBe(seenByAlice);
    expect(await alice.page.getByRole("img", { name: /QR code of the safety number/ }).count()).toBe(1);
    await alice.page.getByRole("button", { name: "Mark as verified" }).click();
    await alice.page.waitForFunction(() => document.querySelector("[data-testid=verification-state]")?.textContent === "Verified");
    for (const p of [alice, bob]) await p.page.getByRole("button", { name: "← Back to the room" }).click();
    await alice.page.waitForFunction(() =>
      Array.from(document.querySelectorAll("[data-testid=member]")).some(
        (m) => m.querySelector(".member-name")?.textContent === "Bob" && m.getAttribute("data-verification") === "verified",
      ),
    );
  });

  it("shows a member leaving to the others", async () => {
    await carol.page.getByRole("button", { name: "Leave", exact: true }).click();
    await carol.page.getByRole("button", { name: "Yes, leave" }).click();
    await carol.page.getByRole("heading", { name: "Your rooms" }).waitFor();
    await waitForMembers(alice.page, ["Alice (you)", "Bob"]);
    await waitForMembers(bob.page, ["Bob (you)", "Alice"]);
    await alice.page.getByText("Carol is no longer in the room").waitFor();
    await sendMessage(alice.page, PLAINTEXTS.afterLeave);
    await waitForMessage(bob.page, PLAINTEXTS.afterLeave);
  });

  it("lets the admin remove a member, who can then read nothing new", async () => {
    // Carol's departure rotated the room secret, but the link survives it (RM-50, RM-51): the
    // first link still admits Dave, at the new epoch.
    await alice.page.getByRole("button", { name: "Share invite" }).click();
    const fresh = await alice.page.locator("#invite-field").inputValue();
    expect(fresh).toBe(invite);
    await alice.page.getByRole("button", { name: "Done" }).click();
    dave = await openPage(contexts[3]!, "about:blank");
    await joinByLink(dave.page, fresh, "Dave", ROOM_NAME);
    await waitForMembers(alice.page, ["Alice (you)", "Bob", "Dave"]);
    await waitForMembers(bob.page, ["Bob (you)", "Alice", "Dave"]);
    await sendMessage(dave.page, PLAINTEXTS.daveHello);
    await waitForMessage(bob.page, PLAINTEXTS.daveHello);
    // Only the admin is offered removal.
    expect(await bob.page.getByRole("button", { name: "Remove Dave" }).count()).toBe(0);
    await alice.page.getByRole("button", { name: "Remove Dave" }).click();
    await alice.page.getByRole("button", { name: "Confirm removing Dave" }).click();
    await waitForMembers(alice.page, ["Alice (you)", "Bob"]);
    await waitForMembers(bob.page, ["Bob (you)", "Alice"]);
    await dave.page.waitForFunction(() => document.querySelector<HTMLTextAreaElement>("#composer-input")?.disabled === true);
    await sendMessage(alice.page, PLAINTEXTS.afterRemove);
    await waitForMessage(bob.page, PLAINTEXTS.afterRemove);
    const daveSees = await dave.page.locator("[data-testid=message] .bubble-text").allTextContents();
    expect(daveSees).not.toContain(PLAINTEXTS.afterRemove);
  });

  it("keeps the identity, rooms and history across a reload", async () => {
    await bob.page.reload();
    await bob.page.getByRole("button", { name: "Settings" }).waitFor();
    await bob.page.getByRole("button", { name: `${ROOM_NAME}, 2 members` }).waitFor();
    // Bob is on the home screen: a new message shows as unread there.
    await sendMessage(alice.page, PLAINTEXTS.afterReload);
    const unread = bob.page.getByRole("button", { name: `${ROOM_NAME}, 2 members, 1 unread` });
    await unread.click();
    await bob.page.getByRole("heading", { level: 1, name: ROOM_NAME }).waitFor();
    await waitForMessage(bob.page, PLAINTEXTS.afterReload);
    // The history from before the reload is back (encrypted at rest: see the storage check below).
    await waitForMessage(bob.page, PLAINTEXTS.aliceHello);
    await waitForMessage(bob.page, PLAINTEXTS.afterLeave);
  });

  it("reconnects by itself when the relay restarts", async () => {
    await relay.stop();
    await waitForConnection(alice.page, "not-online");
    await waitForConnection(bob.page, "not-online");
    await relay.start();
    await waitForConnection(alice.page, "online");
    await waitForConnection(bob.page, "online");
    await sendMessage(bob.page, PLAINTEXTS.afterRestart);
    await waitForMessage(alice.page, PLAINTEXTS.afterRestart);
  });

  it("chats with a CLI client in the same room", async () => {
    const cli = { relayUrl: relay.url, home: join(work, "cli-home") };
    const init = await runCli(["init", "--name", "Eve"], cli);
    expect(init.code, init.stderr).toBe(0);
    await alice.page.getByRole("button", { name: "Share invite" }).click();
    const link = await alice.page.locator("#invite-field").inputValue();
    // Dave's removal reset the link (RM-52): the panel shows the new one.
    expect(link).not.toBe(invite);
    await alice.page.getByRole("button", { name: "Done" }).click();
    const joined = await runCli(["join", link, "--timeout", "60"], cli);
    expect(joined.code, joined.stderr).toBe(0);
    await waitForMembers(alice.page, ["Alice (you)", "Bob", "Eve"]);
    await waitForMembers(bob.page, ["Bob (you)", "Alice", "Eve"]);
    const sent = await runCli(["send", ROOM_NAME, PLAINTEXTS.cliHello], cli);
    expect(sent.code, sent.stderr).toBe(0);
    await waitForMessage(alice.page, PLAINTEXTS.cliHello);
    await waitForMessage(bob.page, PLAINTEXTS.cliHello);
    // The CLI catches up from the room log, so a message sent before it listens still arrives.
    await sendMessage(alice.page, PLAINTEXTS.toCli);
    const heard = await runCli(["listen", ROOM_NAME, "--count", "1", "--timeout", "60"], cli);
    expect(heard.code, heard.stderr).toBe(0);
    const lines = heard.stdout.trim().split("\n").map((l) => JSON.parse(l) as { text: string; senderName: string });
    expect(lines.map((l) => [l.senderName, l.text])).toContainEqual(["Alice", PLAINTEXTS.toCli]);
  }, CLI_STEP_LIMIT_MS);

  it("writes a screenshot of the room view", async () => {
    await sendMessage(alice.page, PLAINTEXTS.aliceLong);
    await waitForMessage(bob.page, PLAINTEXTS.aliceLong);
    await alice.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await mkdir("test-results", { recursive: true });
    await alice.page.screenshot({ path: "test-results/room-view.png" });
  });

  it("fits a phone-sized screen without sideways scrolling", async () => {
    await bob.page.setViewportSize({ width: 375, height: 740 });
    const overflow = await bob.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await bob.page.getByLabel("Message", { exact: true }).isVisible()).toBe(true);
    await bob.page.screenshot({ path: "test-results/room-view-phone.png" });
  });

  it("kept no plaintext in any browser storage or relay byte, and broke no CSP rule", async () => {
    for (const p of [alice, bob, carol, dave]) {
      const stored = await dumpBrowserStorage(p.page);
      expect(stored).toContain("idb:securecomm"); // the store was really read
      for (const text of Object.values(PLAINTEXTS)) expect(stored.includes(text)).toBe(false);
      expect(p.cspViolations).toEqual([]);
      expect(p.pageErrors).toEqual([]);
    }
    const cliBytes = await readAllBytes(join(work, "cli-home"));
    expect(cliBytes.length).toBeGreaterThan(0);
    for (const text of Object.values(PLAINTEXTS)) expect(cliBytes.includes(Buffer.from(text, "utf8"))).toBe(false);
    const relayBytes = await readAllBytes(relay.dataDir);
    expect(relayBytes.length).toBeGreaterThan(0);
    for (const text of Object.values(PLAINTEXTS)) expect(relayBytes.includes(Buffer.from(text, "utf8"))).toBe(false);
  });

  it("deletes the identity and every local byte from Settings", async () => {
    const { page } = carol;
    await page.getByRole("button", { name: "Settings" }).click();
    expect((await page.getByTestId("fingerprint").textContent())?.length).toBeGreaterThan(0);
    await page.getByRole("button", { name: "Delete identity and all data…" }).click();
    await page.getByRole("button", { name: "Yes, delete everything" }).click();
    await page.getByLabel("Your display name").waitFor();
    // The reloaded app opened a fresh, empty store: no key of the old identity is left.
    const stored = await dumpBrowserStorage(page);
    // Only the new, empty profile's vault header (a fresh data key, wrapped) and its new device
    // key (a non-extractable CryptoKey, which serialises to nothing) are there.
    const lines = stored.split("\n").filter((line) => !line.startsWith("idb:"));
    expect(lines.sort()).toEqual([
      "vault-wrap={}",
      expect.stringMatching(/^vault\/header=\{"version":1,"mode":"device","wrapped":"[0-9a-f]+"\}$/),
    ]);
  });
});
