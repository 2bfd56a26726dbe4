import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base64url, fromBase64url } from "./base64url.js";
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, backoffDelayMs } from "./backoff.js";

describe("base64url (EN-12)", () => {
  it("round-trips any bytes and matches Node's encoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base64url(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64url"));
        expect(fromBase64url(text)).toEqual(bytes);
      }),
    );
  });

  it("rejects padding, other alphabets, impossible lengths and non-canonical trailing bits", () => {
    // "AB" and "AAB" have non-zero trailing bits (the canonical forms are "AA" and "AAA").
    for (const bad of ["AA==", "A+B/", "A", "AB!", "AB", "AAB"]) expect(fromBase64url(bad)).toBeUndefined();
    expect(fromBase64url("AA")).toEqual(new Uint8Array([0]));
  });
});

describe("reconnect backoff", () => {
  it("grows exponentially from the base, stays within [cap/2, cap], and never exceeds the maximum", () => {
    expect(backoffDelayMs(0, () => 0)).toBe(BACKOFF_BASE_MS / 2);
    expect(backoffDelayMs(0, () => 1)).toBe(BACKOFF_BASE_MS);
    expect(backoffDelayMs(3, () => 1)).toBe(BACKOFF_BASE_MS * 8);
    fc.assert(
      fc.property(fc.nat(1000), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const d = backoffDelayMs(attempt, () => r);
        const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 20));
        expect(d).toBeGreaterThanOrEqual(Math.floor(cap / 2));
        expect(d).toBeLessThanOrEqual(cap);
      }),
    );
  });
});
