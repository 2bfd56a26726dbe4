import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { SPQR_MAX_FORWARD_JUMPS, SPQR_MAX_SKIPPED_KEYS } from "./constants.js";
import { encodeSpqrNone, initSpqr, parseSpqrIndex, spqrReceive, spqrSend } from "./spqr.js";

const authKey = new Uint8Array(32).fill(7);

describe("SPQR phase-1 epoch 0 (spec PQ-01..PQ-05)", () => {
  it("PQ-01, PQ-02 the initiator's sending keys are the responder's receiving keys, in any order", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([1, 2, 3, 4, 5, 6, 7, 8], { minLength: 8, maxLength: 8 }), (order) => {
        let sender = initSpqr(authKey, true, 1);
        const sent: Array<{ key: Uint8Array; message: Uint8Array }> = [];
        for (let i = 0; i < 8; i++) {
          const out = spqrSend(sender);
          sender = out.state;
          sent.push(out);
        }
        let receiver = initSpqr(authKey, false, 1);
        for (const n of order) {
          const m = sent[n - 1];
          if (m === undefined) throw new Error("bad index");
          const out = spqrReceive(receiver, m.message);
          expect(out.key).toEqual(m.key);
          receiver = out.state;
        }
        expect(receiver.skippedKeys).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it("PQ-04 None messages are 0x01 0x01 varint(c) 0x00", () => {
    expect(encodeSpqrNone(5)).toEqual(Uint8Array.of(1, 1, 5, 0));
    expect(encodeSpqrNone(128)).toEqual(Uint8Array.of(1, 1, 0x80, 1, 0));
    expect(parseSpqrIndex(Uint8Array.of(1, 1, 0x80, 1, 0))).toBe(128);
    // Any payload after the type byte is accepted and ignored (PQ-07).
    expect(parseSpqrIndex(Uint8Array.of(1, 1, 3, 1, 9, 9, 9))).toBe(3);
  });

  it("PQ-05 malformed SPQR messages are refused", () => {
    for (const bad of [
      new Uint8Array(0),
      Uint8Array.of(1, 1, 1),
      Uint8Array.of(2, 1, 1, 0),
      Uint8Array.of(1, 2, 1, 0),
      Uint8Array.of(1, 1, 0, 0),
      Uint8Array.of(1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0),
    ]) {
      expect(() => parseSpqrIndex(bad)).toThrow(expect.objectContaining({ code: "invalid_message" }));
    }
  });

  it("PQ-05 a used index is a duplicate; a jump past the limit is refused; stored keys are bounded", () => {
    const receiver = initSpqr(authKey, false, 1);
    const first = spqrReceive(receiver, encodeSpqrNone(1));
    let caught: unknown;
    try {
      spqrReceive(first.state, encodeSpqrNone(1));
    } catch (e) {
      caught = e;
    }
    expect(isProtocolError(caught, "duplicate_message")).toBe(true);
    expect(() => spqrReceive(receiver, encodeSpqrNone(SPQR_MAX_FORWARD_JUMPS + 1))).toThrow(
      expect.objectContaining({ code: "counter_too_large" }),
    );
    const far = spqrReceive(receiver, encodeSpqrNone(SPQR_MAX_SKIPPED_KEYS + 10));
    expect(far.state.skippedKeys.length).toBe(SPQR_MAX_SKIPPED_KEYS);
    expect(far.state.skippedKeys[0]?.index).toBe(10);
    // The input state is never mutated.
    expect(receiver.receiveCounter).toBe(0);
    expect(receiver.skippedKeys).toEqual([]);
  });
});
