import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { errorReason, RELAY_ERRORS, relayError, retryAfterMs, toRelayError, type RelayErrorReason } from "./errors.js";

describe("relay errors (API-24)", () => {
  it("every reason maps to its code, a fixed message and an ErrorInfo detail", () => {
    for (const reason of Object.keys(RELAY_ERRORS) as RelayErrorReason[]) {
      const err = relayError(reason);
      expect(err.code).toBe(RELAY_ERRORS[reason][0]);
      expect(err.rawMessage).toBe(RELAY_ERRORS[reason][1]);
      expect(errorReason(err)).toBe(reason);
    }
  });

  it("resource exhaustion carries RetryInfo; other errors do not", () => {
    expect(retryAfterMs(relayError("RATE_LIMITED", 1234.2))).toBe(1235);
    expect(retryAfterMs(relayError("MAILBOX_FULL"))).toBeGreaterThan(0);
    expect(retryAfterMs(relayError("BAD_TOKEN"))).toBeUndefined();
    for (const [reason, [code]] of Object.entries(RELAY_ERRORS)) {
      if (code === Code.ResourceExhausted) expect(retryAfterMs(relayError(reason as RelayErrorReason)), reason).toBeGreaterThan(0);
    }
  });

  it("unknown failures become INTERNAL without their cause's text", () => {
    const err = toRelayError(new Error("secret 0xdeadbeef"));
    expect(err.code).toBe(Code.Internal);
    expect(err.message).not.toContain("deadbeef");
    const passthrough = relayError("ROOM_NOT_FOUND");
    expect(toRelayError(passthrough)).toBe(passthrough);
    expect(errorReason(new ConnectError("x"))).toBeUndefined();
  });
});
