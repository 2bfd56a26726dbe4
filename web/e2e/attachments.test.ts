// Issue 13 in real headless Chromium against a real relay serving the built app: one member
// attaches an image through the file picker and records a voice note with MediaRecorder
// (Chromium's fake microphone); the other sees the thumbnail, opens the full image in the
// viewer (downloaded, digest-checked and decrypted in the page) and plays the voice note. No
// CSP violation (blob: images and media) and no page error on either side.
//
// One scenario in steps: each `it` builds on the one before (vitest runs them in order).

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildWebApp,
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  chooseName,
  createRoom,
  joinByLink,
  openPage,
  sendMessage,
  startRestartableRelay,
  STEP_TIMEOUT_MS,
  waitForMessage,
  type AppPage,
  type RestartableRelay,
} from "./harness.js";

const ROOM_NAME = "Photo club";
const IMAGE = { width: 320, height: 200 };

let work: string;
let relay: RestartableRelay;
let browser: Browser;
let alice: AppPage;
let bob: AppPage;
const STEP = 6 * STEP_TIMEOUT_MS;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "securecomm-attach-e2e-"));
  const staticDir = join(work, "dist");
  const dataDir = join(work, "relay");
  await mkdir(dataDir);
  await buildWebApp(staticDir);
  relay = await startRestartableRelay({ dataDir, staticDir });
  // A fake microphone that needs no prompt: MediaRecorder records a real (synthetic) track.
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("web app: attachments and voice notes (issue 13)", () => {
  it("two members in one room", async () => {
    const aliceContext = await browser.newContext({ viewport: { width: 1000, height: 740 } });
    await aliceContext.grantPermissions(["microphone"], { origin: relay.url });
    alice = await openPage(aliceContext, relay.url);
    await chooseName(alice.page, "Alice Fotograf");
    const invite = await createRoom(alice.page, ROOM_NAME);
    bob = await openPage(await browser.newContext({ viewport: { width: 1000, height: 740 } }), "about:blank");
    await joinByLink(bob.page, invite, "Bob Betrachter", ROOM_NAME);
    await sendMessage(bob.page, "ready for photos");
    await waitForMessage(alice.page, "ready for photos");
  }, STEP);

  it("RM-74 an image attached with the picker arrives as a thumbnail and opens full size in the viewer", async () => {
    // A real PNG drawn in the page (the test has no image library).
    const png = await alice.page.evaluate(async ({ width, height }) => {
      const c = document.createElement("canvas");
      c.width = width;
      c.height = height;
      const g = c.getContext("2d")!;
      for (let x = 0; x < width; x += 20) {
        g.fillStyle = `hsl(${x}, 80%, 50%)`;
        g.fillRect(x, 0, 20, height);
      }
      const blob = await new Promise<Blob>((resolve) => c.toBlob((b) => resolve(b!), "image/png"));
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    }, IMAGE);
    await alice.page.getByLabel("Message", { exact: true }).fill("the sunset");
    await alice.page.locator("[data-testid=attach-input]").setInputFiles({ name: "sunset.png", mimeType: "image/png", buffer: Buffer.from(png) });
    // Bob sees the caption and the thumbnail, drawn from the encrypted message itself.
    await waitForMessage(bob.page, "the sunset");
    const thumb = bob.page.locator("[data-testid=attachment-thumbnail]");
    await thumb.waitFor();
    await bob.page.waitForFunction(() => (document.querySelector<HTMLImageElement>("[data-testid=attachment-thumbnail]")?.naturalWidth ?? 0) > 0);
    const thumbSize = await thumb.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
    expect(Math.max(...thumbSize)).toBeLessThanOrEqual(160);
    expect(await thumb.evaluate((img: HTMLImageElement) => img.src.startsWith("blob:"))).toBe(true);
    // The full image: downloaded, checked and decrypted in the page, shown from a blob: URL.
    await thumb.click();
    const full = bob.page.locator("[data-testid=viewer-image]");
    await full.waitFor();
    await bob.page.waitForFunction(() => (document.querySelector<HTMLImageElement>("[data-testid=viewer-image]")?.naturalWidth ?? 0) > 0);
    expect(await full.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([IMAGE.width, IMAGE.height]);
    await bob.page.getByRole("button", { name: "Close" }).click();
    await full.waitFor({ state: "detached" });
  }, STEP);

  it("RM-74 a voice note recorded with MediaRecorder plays on the other side", async () => {
    await alice.page.locator("[data-testid=record]").click();
    await alice.page.getByRole("button", { name: "Stop and send" }).waitFor();
    await alice.page.waitForTimeout(1500); // record a moment of the fake microphone
    await alice.page.getByRole("button", { name: "Stop and send" }).click();
    const play = bob.page.locator("[data-testid=voice-play]");
    await play.waitFor({ timeout: 4 * STEP_TIMEOUT_MS });
    expect(await play.textContent()).toMatch(/Voice note \(\d+\.\d s\)/);
    await play.click();
    const audio = bob.page.locator("[data-testid=voice-audio]");
    await audio.waitFor();
    // The decrypted recording loads as playable media from a blob: URL.
    await bob.page.waitForFunction(() => {
      const a = document.querySelector<HTMLAudioElement>("[data-testid=voice-audio]");
      return a !== null && a.error === null && a.readyState >= 1;
    });
    expect(await audio.evaluate((a: HTMLAudioElement) => a.src.startsWith("blob:"))).toBe(true);
  }, STEP);

  it("nothing was blocked by the Content Security Policy and no page error happened", () => {
    expect(alice.cspViolations).toEqual([]);
    expect(bob.cspViolations).toEqual([]);
    expect(alice.pageErrors).toEqual([]);
    expect(bob.pageErrors).toEqual([]);
  });
});
