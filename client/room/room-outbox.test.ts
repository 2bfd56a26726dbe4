// The outbox's batching (room-outbox.ts `nextBatch`): running batches until the outbox is empty
// performs every job exactly once, a member's jobs in their order and never two of one member
// at once, a rotation alone and only after every job before it, at most MAX_PARALLEL_SENDS
// together (RM-12, RM-13 as built).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_PARALLEL_SENDS, nextBatch } from "./room-outbox.js";
import type { OutboxJob } from "./room-store.js";

type Entry = { key: string; job: OutboxJob };

const entryArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h", "i", "j").map((to) => ({ kind: "pairwise" as const, to })) },
  { weight: 1, arbitrary: fc.constant({ kind: "rotate" as const }) },
);

function jobsOf(specs: readonly ({ kind: "pairwise"; to: string } | { kind: "rotate" })[]): Entry[] {
  return specs.map((s, i) => ({
    key: `k${String(i).padStart(4, "0")}`,
    job: s.kind === "pairwise" ? { kind: "pairwise", room: "r", to: s.to, token: "t", content: "c" } : { kind: "rotate", room: "r", secret: "s", departureSeq: "1" },
  }));
}

describe("outbox batches", () => {
  it("run every job once: per-member order, one per member at a time, rotations alone after all before them, bounded batches (property)", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 60 }), (specs) => {
        const jobs = jobsOf(specs);
        let remaining = jobs;
        const order: string[] = [];
        let batches = 0;
        while (remaining.length > 0) {
          const batch = nextBatch(remaining);
          batches++;
          expect(batch.length).toBeGreaterThan(0);
          expect(batch.length).toBeLessThanOrEqual(MAX_PARALLEL_SENDS);
          const members = batch.filter((e) => e.job.kind === "pairwise").map((e) => (e.job as { to: string }).to);
          expect(new Set(members).size).toBe(members.length);
          if (batch.some((e) => e.job.kind === "rotate")) {
            expect(batch).toHaveLength(1);
            expect(batch[0]).toBe(remaining[0]);
          }
          for (const e of batch) {
            const index = remaining.indexOf(e);
            // Nothing before it in the outbox is a rotation or a job for the same member.
            for (const before of remaining.slice(0, index)) {
              expect(before.job.kind).toBe("pairwise");
              if (e.job.kind === "pairwise") expect((before.job as { to: string }).to).not.toBe(e.job.to);
            }
          }
          order.push(...batch.map((e) => e.key));
          remaining = remaining.filter((e) => !batch.includes(e));
        }
        expect([...order].sort()).toEqual(jobs.map((e) => e.key));
        expect(batches).toBeLessThanOrEqual(jobs.length);
      }),
    );
  });

  it("sends to different members go together: 20 answers to 20 members take ⌈20 / MAX_PARALLEL_SENDS⌉ batches", () => {
    let remaining = jobsOf(Array.from({ length: 20 }, (_, i) => ({ kind: "pairwise" as const, to: `m${i}` })));
    let batches = 0;
    while (remaining.length > 0) {
      const batch = nextBatch(remaining);
      remaining = remaining.filter((e) => !batch.includes(e));
      batches++;
    }
    expect(batches).toBe(Math.ceil(20 / MAX_PARALLEL_SENDS));
  });
});
