// Invites in real headless Chromium against a real relay serving the built app (spec/09-rooms.md
// RM-50..RM-53): the join screen names the room and the inviter before Join; the admin's "Reset
// link" replaces the link on every member's screen; the old link then fails with a sentence that
// says so; the new one joins.
//
// One scenario in steps: each `it` builds on the one before (vitest runs them in order).

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildWebApp,
  chooseName,
  createRoom,
  launchChromium,
  openPage,
  startRestartableRelay,
  STEP_TIMEOUT_MS,
  type AppPage,
  type RestartableRelay,
} from "./harness.js";

const ROOM_NAME = "Allotment 7";
const NAMES = { alice: "Ottilie Marsh", bob: "Bram Fennel", carol: "Cecily Thorn" };
const STEP = 6 * STEP_TIMEOUT_MS;

let work: string;
let relay: RestartableRelay;
let browser: Browser;
let alice: AppPage;
let bob: AppPage;
let carol: AppPage;
let link: string;
/** The link alice made at creation, before the reset. */
let firstLink = "";

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "securecomm-invites-e2e-"));
  const staticDir = join(work, "dist");
  const dataDir = join(work, "relay");
  await mkdir(dataDir);
  await buildWebApp(staticDir);
  relay = await startRestartableRelay({ dataDir, staticDir });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const linkOnScreen = (app: AppPage) => app.page.locator("#invite-field").inputValue();

describe("web app: invites (RM-50..RM-53)", () => {
  it("RM-53: the join screen names the room and the person who invited, before Join", async () => {
    alice = await openPage(await browser.newContext(), relay.url);
    await chooseName(alice.page, NAMES.alice);
    link = await createRoom(alice.page, ROOM_NAME);
    bob = await openPage(await browser.newContext(), "about:blank");
    await bob.page.goto(link);
    await chooseName(bob.page, NAMES.bob);
    await bob.page.getByRole("heading", { level: 1, name: `Join “${ROOM_NAME}”?` }).waitFor();
    expect(await bob.page.getByTestId("join-room-name").textContent()).toBe(ROOM_NAME);
    expect(await bob.page.getByTestId("join-inviter-name").textContent()).toBe(NAMES.alice);
    await bob.page.getByRole("button", { name: "Join room" }).click();
    await bob.page.getByRole("heading", { level: 1, name: ROOM_NAME }).waitFor();
    await alice.page.getByText(`${NAMES.bob} joined the room`).waitFor();
    firstLink = link;
  }, STEP);

  it("RM-52: only the admin is offered Reset link; after a reset every member's panel shows the new link", async () => {
    await bob.page.getByRole("button", { name: "Share invite" }).click();
    const bobsOld = await linkOnScreen(bob);
    expect(bobsOld).toContain("#join=");
    expect(await bob.page.getByRole("button", { name: "Reset link…" }).count()).toBe(0);
    // alice's panel is still open from creating the room.
    expect(await linkOnScreen(alice)).toBe(link);
    await alice.page.getByRole("button", { name: "Reset link…" }).click();
    await alice.page.getByRole("button", { name: /Yes, reset/ }).click();
    await alice.page.getByText("The link was reset.", { exact: false }).waitFor();
    const fresh = await linkOnScreen(alice);
    expect(fresh).not.toBe(link);
    // bob's client learns the new secret from alice's InviteReset; his open panel follows.
    await bob.page.waitForFunction((old) => (document.querySelector<HTMLInputElement>("#invite-field")?.value ?? old) !== old, bobsOld, { timeout: STEP_TIMEOUT_MS });
    const bobsNew = await linkOnScreen(bob);
    // Same room and invite secret; bob's link names bob as the inviter.
    expect(bobsNew.split("#join=")[0]).toBe(fresh.split("#join=")[0]);
    link = bobsNew;
  }, STEP);

  it("RM-51 RM-52: the old link fails with a sentence saying it was reset; a member's current link joins", async () => {
    carol = await openPage(await browser.newContext(), "about:blank");
    await carol.page.goto(`${relay.url}/`);
    await chooseName(carol.page, NAMES.carol);
    // The first link alice made (before the reset).
    await carol.page.goto(firstLink);
    await carol.page.getByRole("button", { name: "Join room" }).click();
    await carol.page.getByRole("alert").filter({ hasText: "This invite link was reset by the room's admin." }).waitFor();
    expect(await carol.page.getByRole("heading", { level: 1, name: ROOM_NAME, exact: true }).count()).toBe(0);
    await carol.page.getByRole("button", { name: "Not now" }).click();
    // bob's current link names bob: the join screen says so, and it joins.
    await carol.page.goto(link);
    expect(await carol.page.getByTestId("join-inviter-name").textContent()).toBe(NAMES.bob);
    await carol.page.getByRole("button", { name: "Join room" }).click();
    await carol.page.getByRole("heading", { level: 1, name: ROOM_NAME, exact: true }).waitFor();
    await alice.page.getByText(`${NAMES.carol} joined the room`).waitFor();
    for (const app of [alice, bob, carol]) {
      expect(app.pageErrors).toEqual([]);
      expect(app.cspViolations).toEqual([]);
    }
  }, STEP);
});
