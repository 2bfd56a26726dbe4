// AckQueue (spec API-14, API-15): committed mailbox ids are acknowledged one call at a time,
// beside the stream; ids committed meanwhile go in the next call, none is lost or sent twice by
// the queue, calls stay within MAX_ACK_IDS, and a failed call is reported once and drops its ids
// (the relay delivers them again).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AckQueue, MAX_ACK_IDS } from "./ack-queue.js";

/** A send whose calls finish only when the test says so. */
function controlledSend() {
  const calls: { ids: bigint[]; finish: (error?: Error) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const send = (ids: bigint[]) =>
    new Promise<void>((resolve, reject) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      calls.push({
        ids,
        finish: (error) => {
          inFlight--;
          if (error) reject(error);
          else resolve();
        },
      });
    });
  return { calls, send, maxInFlight: () => maxInFlight };
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe("AckQueue", () => {
  it("sends at once, collects ids committed while a call is in flight into the next call, one call at a time", async () => {
    const c = controlledSend();
    const errors: unknown[] = [];
    const q = new AckQueue(c.send, (e) => errors.push(e));
    q.add([1n, 2n]);
    expect(c.calls.map((x) => x.ids)).toEqual([[1n, 2n]]);
    q.add([3n]);
    q.add([4n, 5n]);
    await tick();
    expect(c.calls.length).toBe(1); // still waiting for the first
    c.calls[0]!.finish();
    await tick();
    expect(c.calls.map((x) => x.ids)).toEqual([[1n, 2n], [3n, 4n, 5n]]);
    c.calls[1]!.finish();
    await q.drain();
    expect(c.maxInFlight()).toBe(1);
    expect(errors).toEqual([]);
    q.add([]);
    expect(c.calls.length).toBe(2); // nothing to send, no call
  });

  it("splits more than MAX_ACK_IDS ids over calls", async () => {
    const sent: bigint[][] = [];
    const q = new AckQueue(async (ids) => void sent.push(ids), () => undefined);
    const ids = Array.from({ length: MAX_ACK_IDS * 2 + 5 }, (_, i) => BigInt(i));
    q.add(ids);
    await q.drain();
    expect(sent.map((s) => s.length)).toEqual([MAX_ACK_IDS, MAX_ACK_IDS, 5]);
    expect(sent.flat()).toEqual(ids);
  });

  it("a failed call is reported once and drops the ids queued with it; later ids are sent again", async () => {
    const c = controlledSend();
    const errors: unknown[] = [];
    const q = new AckQueue(c.send, (e) => errors.push(e));
    q.add([1n]);
    q.add([2n]); // queued behind the failing call: dropped with it
    const failure = new Error("relay down");
    c.calls[0]!.finish(failure);
    await q.drain();
    expect(errors).toEqual([failure]);
    expect(c.calls.map((x) => x.ids)).toEqual([[1n]]);
    q.add([3n]);
    c.calls[1]!.finish();
    await q.drain();
    expect(c.calls.map((x) => x.ids)).toEqual([[1n], [3n]]);
  });

  it("every added id is sent exactly once, in order, whatever the timing of calls (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.array(fc.bigInt({ min: 0n, max: 1n << 40n }), { maxLength: 5 }), fc.nat(3)), { maxLength: 30 }), async (steps) => {
        const sent: bigint[] = [];
        let inFlight = 0;
        let overlap = false;
        const q = new AckQueue(
          async (ids) => {
            if (++inFlight > 1) overlap = true;
            await tick();
            sent.push(...ids);
            inFlight--;
          },
          () => undefined,
        );
        const added: bigint[] = [];
        for (const [ids, waits] of steps) {
          q.add(ids);
          added.push(...ids);
          for (let i = 0; i < waits; i++) await tick();
        }
        await q.drain();
        expect(sent).toEqual(added);
        expect(overlap).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
