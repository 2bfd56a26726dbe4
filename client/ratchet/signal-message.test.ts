import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../crypto/bytes.js";
import { isProtocolError } from "../errors.js";
import {
  encodeSignalMessageBody,
  parsePreKeySignalMessage,
  parseSignalMessage,
  serializePreKeySignalMessage,
} from "./signal-message.js";
import { encodeSpqrNone, parseSpqrIndex } from "./spqr.js";

const key33 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((u) => concatBytes(Uint8Array.of(5), u));
const u32 = fc.nat({ max: 0xffffffff });

describe("SignalMessage framing (spec DR-10)", () => {
  it("parse ∘ encode = id, zero counters included", () => {
    fc.assert(
      fc.property(key33, u32, u32, fc.integer({ min: 1, max: 4 }).chain((blocks) => fc.uint8Array({ minLength: 16 * blocks, maxLength: 16 * blocks })), fc.nat({ max: 100000 }), fc.uint8Array({ minLength: 8, maxLength: 8 }),
        (ratchetKey, counter, previousCounter, ciphertext, index, mac) => {
          const pqRatchet = encodeSpqrNone(index + 1);
          const body = encodeSignalMessageBody({ ratchetKey, counter, previousCounter, ciphertext, pqRatchet });
          const parsed = parseSignalMessage(concatBytes(body, mac));
          expect(parsed).toEqual({ ratchetKey, counter, previousCounter, ciphertext, pqRatchet, macInput: body, mac });
          expect(parseSpqrIndex(parsed.pqRatchet)).toBe(index + 1);
        }),
    );
  });

  it("zero counters are on the wire (libsignal requires the fields present)", () => {
    const body = encodeSignalMessageBody({
      ratchetKey: new Uint8Array(33).fill(5),
      counter: 0,
      previousCounter: 0,
      ciphertext: new Uint8Array(16),
      pqRatchet: encodeSpqrNone(1),
    });
    // ... 0x10 0x00 (counter = 0) 0x18 0x00 (previous counter = 0) ...
    expect(Buffer.from(body).toString("hex")).toContain("10001800");
  });
});

describe("SignalMessage required fields (spec DR-10, PQ-07)", () => {
  const good = {
    ratchetKey: new Uint8Array(33).fill(5),
    counter: 3,
    previousCounter: 0,
    ciphertext: new Uint8Array(32),
    pqRatchet: encodeSpqrNone(4),
  };
  it("refuses a ciphertext that is not a non-zero multiple of 16 bytes, and a missing pq_ratchet", () => {
    for (const bad of [{ ...good, ciphertext: new Uint8Array(15) }, { ...good, pqRatchet: new Uint8Array(0) }]) {
      const bytes = concatBytes(encodeSignalMessageBody(bad), new Uint8Array(8));
      expect(() => parseSignalMessage(bytes)).toThrow(expect.objectContaining({ code: "invalid_message" }));
    }
    expect(parseSignalMessage(concatBytes(encodeSignalMessageBody(good), new Uint8Array(8))).counter).toBe(3);
  });
});

describe("PreKeySignalMessage framing (spec PX-08)", () => {
  const fields = {
    preKeyId: 1,
    baseKey: new Uint8Array(33).fill(5),
    identityKey: new Uint8Array(33).fill(5),
    message: Uint8Array.of(0x44, 1, 2, 3),
    registrationId: 1234,
    signedPreKeyId: 0,
    kyberPreKeyId: 9,
    kyberCiphertext: new Uint8Array(1569).fill(8),
  };

  it("round-trips, with and without a one-time prekey", () => {
    expect(parsePreKeySignalMessage(serializePreKeySignalMessage(fields))).toEqual(fields);
    const without = { ...fields, preKeyId: undefined };
    expect(parsePreKeySignalMessage(serializePreKeySignalMessage(without))).toEqual(without);
  });

  it("regression (fast-check seed -65370227): a flipped wire-type bit in a tag is refused", () => {
    const bytes = serializePreKeySignalMessage(fields);
    expect(bytes[1]).toBe(0x08);
    const flipped = Uint8Array.from(bytes);
    flipped[1] = 0x09;
    expect(() => parsePreKeySignalMessage(flipped)).toThrow(expect.objectContaining({ code: "invalid_message" }));
  });

  it("unknown and repeated fields are refused", () => {
    const bytes = serializePreKeySignalMessage(fields);
    for (const extra of [Uint8Array.of(0x48, 0x01), Uint8Array.of(0x28, 0x01)]) {
      let caught: unknown;
      try {
        parsePreKeySignalMessage(concatBytes(bytes, extra));
      } catch (e) {
        caught = e;
      }
      expect(isProtocolError(caught, "invalid_message")).toBe(true);
    }
  });

  it("another version byte is invalid_version", () => {
    const bytes = serializePreKeySignalMessage(fields);
    bytes[0] = 0x33;
    expect(() => parsePreKeySignalMessage(bytes)).toThrow(expect.objectContaining({ code: "invalid_version" }));
  });
});
