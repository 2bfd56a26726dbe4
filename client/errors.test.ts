import { describe, expect, it } from "vitest";
import { ProtocolError, isProtocolError, type ProtocolErrorCode } from "./errors.js";

const CODES: ProtocolErrorCode[] = [
  "invalid_key", "invalid_signature", "invalid_message", "bad_mac", "duplicate_message",
  "counter_too_large", "no_session", "untrusted_identity", "missing_prekey", "invalid_version",
  "invalid_certificate", "expired_certificate", "no_sender_key", "invalid_padding",
  "invalid_ciphertext",
];

describe("ProtocolError", () => {
  it("carries its code, a fixed distinct sentence per code, and the name ProtocolError", () => {
    const messages = new Set<string>();
    for (const code of CODES) {
      const e = new ProtocolError(code);
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe(code);
      expect(e.name).toBe("ProtocolError");
      expect(e.message).toMatch(/^[A-Z][^0-9]*\.$/);
      messages.add(e.message);
    }
    expect(messages.size).toBe(CODES.length);
  });

  it("isProtocolError narrows by type and optionally by code", () => {
    const e: unknown = new ProtocolError("bad_mac");
    expect(isProtocolError(e)).toBe(true);
    expect(isProtocolError(e, "bad_mac")).toBe(true);
    expect(isProtocolError(e, "invalid_key")).toBe(false);
    expect(isProtocolError(new Error("bad_mac"))).toBe(false);
    expect(isProtocolError("bad_mac")).toBe(false);
    expect(isProtocolError(undefined)).toBe(false);
  });
});
