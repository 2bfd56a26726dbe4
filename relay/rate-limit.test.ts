import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRateLimiter } from "./rate-limit.js";

describe("token-bucket rate limiter", () => {
  it("allows perMinute events at once, then tells how long to wait for the next", () => {
    const l = createRateLimiter(30);
    for (let i = 0; i < 30; i++) expect(l.take("k", 0).allowed).toBe(true);
    const d = l.take("k", 0);
    expect(d).toEqual({ allowed: false, retryAfterMs: 2000 });
    expect(l.take("k", 1999).allowed).toBe(false);
    expect(l.take("k", 2000).allowed).toBe(true);
    expect(l.take("other", 0).allowed).toBe(true);
  });

  it("never allows more than perMinute + elapsed refill over any schedule", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 300 }), (perMinute, gaps) => {
        const l = createRateLimiter(perMinute);
        let now = 0;
        let allowed = 0;
        for (const g of gaps) {
          now += g;
          const d = l.take("k", now);
          if (d.allowed) allowed++;
          else expect(d.retryAfterMs).toBeGreaterThan(0);
        }
        expect(allowed).toBeLessThanOrEqual(perMinute + Math.floor((now * perMinute) / 60_000) + 1);
      }),
    );
  });

  it("keeps memory bounded under a flood of distinct keys", () => {
    const l = createRateLimiter(5, 1000);
    for (let i = 0; i < 10_000; i++) l.take(`k${i}`, i);
    expect(l.size).toBeLessThanOrEqual(1000);
  });

  it("rejects a non-positive rate", () => {
    expect(() => createRateLimiter(0)).toThrow(RangeError);
  });
});
