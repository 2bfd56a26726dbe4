import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { Subscription } from "./subscription.js";
import { WakeSchedule } from "./wake-schedule.js";

describe("shared keep-alive schedule (API-12 KeepAlive)", () => {
  it("fires every scheduled deadline exactly once, never before its delay, and skips cancelled ones", async () => {
    const schedule = new WakeSchedule(10);
    const fired = new Map<number, number>();
    const started = new Map<number, number>();
    const all: Promise<void>[] = [];
    const cancels: (() => void)[] = [];
    for (let i = 0; i < 2000; i++) {
      const delay = (i * 7) % 60;
      started.set(i, performance.now());
      if (i % 10 === 9) {
        cancels.push(schedule.schedule(delay, () => fired.set(i, (fired.get(i) ?? 0) + 1)));
        continue;
      }
      all.push(
        new Promise((resolve) => {
          schedule.schedule(delay, () => {
            fired.set(i, (fired.get(i) ?? 0) + 1);
            // Never early: the tick rounds deadlines up.
            expect(performance.now() - (started.get(i) ?? 0)).toBeGreaterThanOrEqual(delay - 1);
            resolve();
          });
        }),
      );
    }
    for (const c of cancels) c();
    await Promise.all(all);
    await new Promise((r) => setTimeout(r, 80));
    for (let i = 0; i < 2000; i++) expect(fired.get(i)).toBe(i % 10 === 9 ? undefined : 1);
    expect(schedule.pending).toBe(0);
  });

  it("wakes every idle stream waiting on it with a timeout, and a pushed event wakes only its stream", async () => {
    const schedule = new WakeSchedule(5);
    const limits = { maxBufferEvents: 10, maxBufferBytes: 10_000 };
    const subs = Array.from({ length: 500 }, (_, i) => {
      const s = new Subscription(new Uint8Array(33).fill(i % 256), limits, schedule);
      s.rooms.set("aa", { roomId: new Uint8Array(16), accessKeyHash: new Uint8Array(32), lastSeq: 0 });
      s.mode = "live";
      return s;
    });
    const signal = new AbortController().signal;
    const outcomes = subs.map((s) => s.wait(30, signal));
    subs[7]?.pushRoom("aa", { seq: 1, postedAtMs: 0, envelope: new Uint8Array(3), ephemeral: false });
    const got = await Promise.all(outcomes);
    expect(got.filter((o) => o === "timeout").length).toBe(499);
    expect(got[7]).toBe("work");
    expect(schedule.pending).toBe(0);
  });

  it("ends a wait with aborted when the stream's signal aborts, with one listener per stream", async () => {
    const schedule = new WakeSchedule(5);
    const sub = new Subscription(new Uint8Array(33), { maxBufferEvents: 10, maxBufferBytes: 10_000 }, schedule);
    sub.mode = "live";
    const ac = new AbortController();
    expect(await sub.wait(1, ac.signal)).toBe("timeout");
    expect(await sub.wait(1, ac.signal)).toBe("timeout");
    const pending = sub.wait(60_000, ac.signal);
    ac.abort();
    expect(await pending).toBe("aborted");
    expect(schedule.pending).toBe(0);
    expect(await sub.wait(60_000, ac.signal)).toBe("aborted");
  });
});
