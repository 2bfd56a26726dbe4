import { describe, expect, it } from "vitest";
import { DEFAULT_RELAY_LIMITS, resolveLimits, toRelayLimitsMessage } from "./limits.js";

describe("relay limits (API-23)", () => {
  it("defaults match spec/10-relay-api.md", () => {
    expect(DEFAULT_RELAY_LIMITS).toMatchObject({
      maxEnvelopeBytes: 65536,
      maxPreKeysPerUpload: 100,
      maxMailboxEnvelopes: 10000,
      maxRoomLogEnvelopes: 100000,
      mailboxRetentionMs: 30 * 86400_000,
      roomRetentionMs: 7 * 86400_000,
      tokenLifetimeMs: 86400_000,
      senderCertificateLifetimeMs: 7 * 86400_000,
      maxHistoryPage: 500,
      maxRoomsPerSubscription: 256,
      maxBundleFetchesPerMinute: 30,
      preKeyRefillThreshold: 20,
      maxAckIds: 1000,
      challengeLifetimeMs: 300_000,
      keepAliveIntervalMs: 15_000,
    });
  });

  it("overrides merge; bad values are RangeErrors", () => {
    expect(resolveLimits({ maxHistoryPage: 7 }).maxHistoryPage).toBe(7);
    expect(resolveLimits({ maxHistoryPage: undefined }).maxHistoryPage).toBe(500);
    expect(() => resolveLimits({ maxHistoryPage: 0 })).toThrow(RangeError);
    expect(() => resolveLimits({ maxHistoryPage: 1.5 })).toThrow(RangeError);
    expect(() => resolveLimits({ nope: 1 } as never)).toThrow(RangeError);
  });

  it("the wire form is in seconds", () => {
    const m = toRelayLimitsMessage(resolveLimits({ roomRetentionMs: 90_500 }));
    expect(m.roomRetentionSeconds).toBe(90);
    expect(m.maxPrekeysPerUpload).toBe(100);
  });
});
