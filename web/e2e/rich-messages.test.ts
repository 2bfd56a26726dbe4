// Replies, reactions, edits and deletes in real headless Chromium against a real relay serving
// the built app (spec/09-rooms.md RM-61..RM-64): Bob answers and reacts to Alice's message,
// Alice reacts too, edits and deletes it; each side sees the other's change; after a reload
// Bob's history (encrypted in the browser) shows the tombstone, not the deleted text.
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
  joinByLink,
  launchChromium,
  openPage,
  sendMessage,
  startRestartableRelay,
  STEP_TIMEOUT_MS,
  waitForMembers,
  waitForMessage,
  type AppPage,
  type RestartableRelay,
} from "./harness.js";

const ROOM_NAME = "Rich messages";
const ORIGINAL = "Lets meet at teh station at ten";
const EDITED = "Let's meet at the station at ten";
const REPLY = "Ten works for me, see you there";

let work: string;
let relay: RestartableRelay;
let browser: Browser;
const contexts: BrowserContext[] = [];
let alice: AppPage;
let bob: AppPage;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "securecomm-web-rich-"));
  const staticDir = join(work, "dist");
  const dataDir = join(work, "relay");
  await mkdir(dataDir);
  await buildWebApp(staticDir);
  relay = await startRestartableRelay({ dataDir, staticDir });
  browser = await launchChromium();
  for (let i = 0; i < 2; i++) contexts.push(await browser.newContext({ viewport: { width: 1100, height: 760 } }));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The bubble of the message whose text (or edited text) is `text`. */
const bubble = (page: Page, text: string) => page.locator("[data-testid=message]", { has: page.locator(".bubble-text", { hasText: text }) });

/** What a condition in the page looks at: message `id`'s reactions, tombstone or highlight. */
type Probe = { id: string; what: "reactions" | "count" | "tombstone" | "flash" };

/** Waits until probe `p` in the page equals `want` (a function, not a string: the app's CSP forbids eval). */
async function until(page: Page, p: Probe, want: string | number | boolean): Promise<void> {
  await page.waitForFunction(
    ([probe, expected]) => {
      const el = document.querySelector(`[data-message-id="${probe.id}"]`);
      if (el === null) return false;
      const value =
        probe.what === "reactions"
          ? el.querySelectorAll("[data-testid=reaction]").length
          : probe.what === "count"
            ? (el.querySelector(".reaction-count")?.textContent ?? "")
            : probe.what === "tombstone"
              ? el.querySelector("[data-testid=tombstone]") !== null
              : el.classList.contains("flash");
      return value === expected;
    },
    [p, want] as const,
    { timeout: STEP_TIMEOUT_MS },
  );
}

/** The reactions shown under the message with id `id`, as "emoji count title". */
async function reactionsOf(page: Page, id: string): Promise<string[]> {
  return page
    .locator(`[data-message-id="${id}"] [data-testid=reaction]`)
    .evaluateAll((els) => els.map((e) => `${(e as HTMLElement).dataset.emoji} ${e.querySelector(".reaction-count")?.textContent} ${e.getAttribute("title")}`));
}

const STEP_LIMIT_MS = 120_000;
let originalId = "";

describe("replies, reactions, edits and deletes in Chromium", { timeout: STEP_LIMIT_MS }, () => {
  it("sets up a room with two members and a message", async () => {
    alice = await openPage(contexts[0]!, relay.url);
    await chooseName(alice.page, "Alice");
    const invite = await createRoom(alice.page, ROOM_NAME);
    bob = await openPage(contexts[1]!, "about:blank");
    await joinByLink(bob.page, invite, "Bob", ROOM_NAME);
    await waitForMembers(alice.page, ["Alice (you)", "Bob"]);
    await waitForMembers(bob.page, ["Bob (you)", "Alice"]);
    await sendMessage(alice.page, ORIGINAL);
    await waitForMessage(bob.page, ORIGINAL);
    originalId = (await bubble(bob.page, ORIGINAL).getAttribute("data-message-id")) ?? "";
    expect(originalId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("RM-61: Bob replies; both see the quote, and clicking it brings the original into view", async () => {
    await bubble(bob.page, ORIGINAL).getByTestId("reply").click();
    await expect(bob.page.getByTestId("composing").textContent()).resolves.toContain("Replying to Alice");
    await sendMessage(bob.page, REPLY);
    await waitForMessage(alice.page, REPLY);
    const quote = bubble(alice.page, REPLY).getByTestId("reply-quote");
    expect(await quote.textContent()).toBe(`You ${ORIGINAL}`);
    expect(await bubble(bob.page, REPLY).getByTestId("reply-quote").textContent()).toBe(`Alice ${ORIGINAL}`);
    await quote.click();
    await until(alice.page, { id: originalId, what: "flash" }, true);
  });

  it("RM-62: reactions show counts and who reacted; clicking one toggles your own", async () => {
    await bubble(bob.page, ORIGINAL).getByTestId("react").click();
    await bob.page.locator("[data-testid=pick-reaction][data-emoji='👍']").click();
    await until(alice.page, { id: originalId, what: "reactions" }, 1);
    expect(await reactionsOf(alice.page, originalId)).toEqual(["👍 1 Bob"]);
    // Alice adds hers by clicking the chip: Bob sees two.
    await alice.page.locator(`[data-message-id="${originalId}"] [data-testid=reaction]`).click();
    await until(bob.page, { id: originalId, what: "count" }, "2");
    expect(await reactionsOf(bob.page, originalId)).toEqual(["👍 2 You, Alice"]);
    // Bob switches to ❤️ (one reaction per member): 👍 1 and ❤️ 1.
    await bubble(bob.page, ORIGINAL).getByTestId("react").click();
    await bob.page.locator("[data-testid=pick-reaction][data-emoji='❤️']").click();
    await until(alice.page, { id: originalId, what: "reactions" }, 2);
    expect(await reactionsOf(alice.page, originalId)).toEqual(["👍 1 You", "❤️ 1 Bob"]);
    // Alice takes hers back.
    await alice.page.locator(`[data-message-id="${originalId}"] [data-testid=reaction][data-emoji='👍']`).click();
    await until(bob.page, { id: originalId, what: "reactions" }, 1);
    expect(await reactionsOf(bob.page, originalId)).toEqual(["❤️ 1 You"]);
  });

  it("writes a screenshot of replies and reactions", async () => {
    await mkdir("test-results", { recursive: true });
    await bob.page.screenshot({ path: "test-results/rich-messages.png" });
  });

  it("RM-63: Alice edits her message; Bob sees the new text marked edited, also in his reply's quote", async () => {
    expect(await bubble(bob.page, ORIGINAL).getByTestId("edit").count()).toBe(0); // not his to edit
    await bubble(alice.page, ORIGINAL).getByTestId("edit").click();
    const box = alice.page.getByLabel("Message", { exact: true });
    expect(await box.inputValue()).toBe(ORIGINAL);
    await box.fill(EDITED);
    await box.press("Enter");
    await waitForMessage(bob.page, EDITED);
    expect(await bubble(bob.page, EDITED).getByTestId("edited").count()).toBe(1);
    expect(await bubble(bob.page, REPLY).getByTestId("reply-quote").textContent()).toBe(`Alice ${EDITED}`);
    await waitForMessage(alice.page, EDITED);
  });

  it("RM-64: Alice deletes it for everyone; Bob sees a tombstone, and so does his reply's quote", async () => {
    expect(await bubble(bob.page, EDITED).getByTestId("delete").count()).toBe(0); // not his to delete
    await bubble(alice.page, EDITED).getByTestId("delete").click();
    await alice.page.getByTestId("confirm-delete").click();
    await until(bob.page, { id: originalId, what: "tombstone" }, true);
    const target = bob.page.locator(`[data-message-id="${originalId}"]`);
    expect(await target.textContent()).not.toContain(EDITED);
    expect(await target.locator("[data-testid=reaction]").count()).toBe(0);
    expect(await bubble(bob.page, REPLY).getByTestId("reply-quote").textContent()).toBe("Alice This message was deleted");
    await until(alice.page, { id: originalId, what: "tombstone" }, true);
  });

  it("RM-64: after a reload, Bob's stored history shows the tombstone and no trace of either text", async () => {
    await bob.page.reload();
    await bob.page.getByRole("button", { name: "Settings" }).waitFor();
    await bob.page.getByRole("button", { name: `${ROOM_NAME}, 2 members` }).click();
    await bob.page.getByRole("heading", { level: 1, name: ROOM_NAME }).waitFor();
    await waitForMessage(bob.page, REPLY);
    await until(bob.page, { id: originalId, what: "tombstone" }, true);
    const shown = await bob.page.locator(".timeline").textContent();
    expect(shown).not.toContain(ORIGINAL);
    expect(shown).not.toContain(EDITED);
  });

  it("RM-65: an edit made while Bob's app was closed reaches his stored history when he comes back", async () => {
    await sendMessage(alice.page, "Bring snacks");
    await waitForMessage(bob.page, "Bring snacks");
    for (const p of [alice, bob]) {
      expect(p.pageErrors).toEqual([]);
      expect(p.cspViolations).toEqual([]);
    }
    await bob.page.close();
    await bubble(alice.page, "Bring snacks").getByTestId("edit").click();
    const box = alice.page.getByLabel("Message", { exact: true });
    await box.fill("Bring snacks and water");
    await box.press("Enter");
    await waitForMessage(alice.page, "Bring snacks and water");
    bob = await openPage(contexts[1]!, relay.url);
    await bob.page.getByRole("button", { name: `${ROOM_NAME}, 2 members` }).first().click();
    await bob.page.getByRole("heading", { level: 1, name: ROOM_NAME }).waitFor();
    await waitForMessage(bob.page, "Bring snacks and water");
    expect(await bubble(bob.page, "Bring snacks and water").getByTestId("edited").count()).toBe(1);
    expect(bob.pageErrors).toEqual([]);
  });
});
