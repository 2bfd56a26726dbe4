import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex } from "../crypto/bytes.js";
import { KeyPair } from "../crypto/curve.js";
import { isProtocolError } from "../errors.js";
import { chainStep, messageSeed, nextChainKey } from "./chain.js";
import { MAX_SKIPPED_SEEDS } from "./constants.js";
import { addSenderKeyState, emptySenderKeyRecord, takeReceivingSeed, takeSendingSeed } from "./sender-key-state.js";

const signingKey = KeyPair.generate().publicKey;

/** The plain reading of SK-07/SK-12: every skipped seed built, then the newest 2,000 kept. */
class ReferenceChain {
  iteration: number;
  key: Uint8Array;
  skipped: Array<{ iteration: number; seed: string }> = [];

  constructor(iteration: number, key: Uint8Array) {
    this.iteration = iteration;
    this.key = key;
  }

  take(iteration: number): string {
    if (iteration < this.iteration) {
      const index = this.skipped.findIndex((k) => k.iteration === iteration);
      if (index < 0) return "duplicate_message";
      const [found] = this.skipped.splice(index, 1);
      return (found as { seed: string }).seed;
    }
    for (let i = this.iteration; i < iteration; i++) {
      this.skipped.push({ iteration: i, seed: bytesToHex(messageSeed(this.key)) });
      this.key = nextChainKey(this.key);
    }
    if (this.skipped.length > MAX_SKIPPED_SEEDS) this.skipped.splice(0, this.skipped.length - MAX_SKIPPED_SEEDS);
    const seed = bytesToHex(messageSeed(this.key));
    this.key = nextChainKey(this.key);
    this.iteration = iteration + 1;
    return seed;
  }
}

describe("sender-key chain bookkeeping (SK-02, SK-07, SK-12)", () => {
  it("chainStep equals messageSeed and nextChainKey", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (ck) => {
        const step = chainStep(ck);
        expect(bytesToHex(step.seed)).toBe(bytesToHex(messageSeed(ck)));
        expect(bytesToHex(step.nextChainKey)).toBe(bytesToHex(nextChainKey(ck)));
      }),
      { numRuns: 50 },
    );
  });

  it("takeReceivingSeed (builds only the seeds it keeps) equals the plain model over jumps around the 2,000-seed limit", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat({ max: 1000 }),
        fc.array(fc.oneof(fc.integer({ min: -30, max: 30 }), fc.integer({ min: 1900, max: 2100 }), fc.integer({ min: -2100, max: -1900 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (chainKey, start, moves) => {
          const record = emptySenderKeyRecord();
          addSenderKeyState(record, { chainId: 7, iteration: start, chainKey, signingKey });
          const state = record.states[0];
          if (state === undefined) throw new Error("no state");
          const model = new ReferenceChain(start, chainKey);
          let at = start;
          for (const move of moves) {
            at = Math.max(0, at + move);
            let ours: string;
            try {
              ours = bytesToHex(takeReceivingSeed(state, at));
            } catch (e) {
              ours = isProtocolError(e) ? e.code : `other: ${String(e)}`;
            }
            expect(ours).toBe(model.take(at));
            expect(state.chainKey?.iteration).toBe(model.iteration);
            expect(bytesToHex(state.chainKey?.seed ?? new Uint8Array())).toBe(bytesToHex(model.key));
            expect(state.skippedKeys.map((k) => `${k.iteration}:${bytesToHex(k.seed)}`)).toEqual(
              model.skipped.map((k) => `${k.iteration}:${k.seed}`),
            );
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("takeSendingSeed returns the seed of the current iteration and advances by one", () => {
    const ck = new Uint8Array(32).fill(3);
    const record = emptySenderKeyRecord();
    addSenderKeyState(record, { chainId: 1, iteration: 5, chainKey: ck, signingKey });
    const state = record.states[0];
    if (state === undefined) throw new Error("no state");
    const out = takeSendingSeed(state);
    expect(out.iteration).toBe(5);
    expect(bytesToHex(out.seed)).toBe(bytesToHex(messageSeed(ck)));
    expect(state.chainKey?.iteration).toBe(6);
    expect(bytesToHex(state.chainKey?.seed ?? new Uint8Array())).toBe(bytesToHex(nextChainKey(ck)));
  });
});
