/**
 * The bounded PreKeysLow refill (API-29, ID-09): one refill per notice at most once a minute,
 * never two at once, and a failing refill neither throws nor blocks the next minute's.
 */

import { describe, expect, it } from "vitest";
import { PREKEYS_LOW_MIN_INTERVAL_MS, PreKeysLowRefill } from "./prekeys-low.js";

describe("PreKeysLowRefill", () => {
  it("API-29: a burst of notices (a faulty or hostile relay) costs one refill a minute, never two at once", async () => {
    const clock = { now: 1_000_000 };
    let calls = 0;
    let finish: () => void = () => {};
    const r = new PreKeysLowRefill({
      refill: () => {
        calls++;
        return new Promise<void>((res) => (finish = res));
      },
      now: () => clock.now,
    });
    expect(r.notice()).toBe(true);
    for (let i = 0; i < 100; i++) expect(r.notice()).toBe(false); // one is running
    finish();
    await r.idle();
    clock.now += PREKEYS_LOW_MIN_INTERVAL_MS - 1;
    expect(r.notice()).toBe(false); // within the minute
    expect(calls).toBe(1);
    clock.now += 1;
    expect(r.notice()).toBe(true);
    finish();
    await r.idle();
    expect(calls).toBe(2);
  });

  it("API-29: a failed refill is counted, not thrown, and the next minute's notice refills again", async () => {
    const clock = { now: 0 };
    let calls = 0;
    const r = new PreKeysLowRefill({
      refill: async () => {
        calls++;
        if (calls === 1) throw new Error("relay unreachable");
      },
      now: () => clock.now,
    });
    expect(r.notice()).toBe(true);
    await r.idle();
    expect(r.failures).toBe(1);
    clock.now += PREKEYS_LOW_MIN_INTERVAL_MS;
    expect(r.notice()).toBe(true);
    await r.idle();
    expect([calls, r.failures]).toEqual([2, 1]);
  });
});
