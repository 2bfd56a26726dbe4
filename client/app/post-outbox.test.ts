/**
 * The post outbox's rules (post-outbox.ts; issue 16): one room's posts go out one at a time in
 * the order sent, failures a retry can fix wait with growing backoff, only the others fail,
 * and the connection coming back sends what waited at once.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  afterRestart,
  attemptEnded,
  attemptStarted,
  connectionBack,
  dueEntries,
  newEntry,
  nextWakeMs,
  type OutboxEntry,
  retried,
  ROOM_JOINING_RECHECK_MS,
} from "./post-outbox.js";

const key = (n: number) => `post-outbox/${String(n).padStart(16, "0")}`;
const entry = (n: number, room: string): OutboxEntry => newEntry(key(n), `m${n}`, room, `text ${n}`, 1000);
const none = new Set<string>();
const r0 = () => 0;

describe("post outbox rules", () => {
  it("DL-02 one entry per room at a time, oldest first; a busy room waits; after a first attempt only online", () => {
    const es = [entry(2, "a"), entry(1, "a"), entry(3, "b")];
    expect(dueEntries(es, 0, none, true).map((e) => e.messageId)).toEqual(["m1", "m3"]);
    expect(dueEntries(es, 0, new Set(["a"]), true).map((e) => e.messageId)).toEqual(["m3"]);
    const waited = attemptEnded(attemptStarted(es[1]!), { kind: "wait", reason: "relay-unreachable", maybeStored: true }, 0, r0);
    // m1 waits: m2 must not overtake it, neither before its time nor while offline.
    expect(dueEntries([waited, es[0]!], 0, none, true)).toEqual([]);
    expect(dueEntries([waited, es[0]!], 10_000, none, false)).toEqual([]);
    expect(dueEntries([waited, es[0]!], 10_000, none, true).map((e) => e.messageId)).toEqual(["m1"]);
    // A first attempt goes even offline (the relay may be up while the stream reconnects).
    expect(dueEntries([es[0]!], 0, none, false).map((e) => e.messageId)).toEqual(["m2"]);
  });

  it("DL-02 a failed entry leaves the sequence; the next one of its room goes", () => {
    const failed = attemptEnded(entry(1, "a"), { kind: "fail", reason: "rejected" }, 0, r0);
    expect(failed.status).toBe("failed");
    expect(dueEntries([failed, entry(2, "a")], 0, none, true).map((e) => e.messageId)).toEqual(["m2"]);
    const again = retried(failed);
    expect(again).toMatchObject({ status: "queued", attempts: 0, notBeforeMs: 0 });
    expect(again.reason).toBeUndefined();
  });

  it("DL-02 transient failures back off exponentially (with jitter), the connection coming back clears the wait, rate limits keep theirs", () => {
    let e = entry(1, "a");
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      e = attemptEnded(attemptStarted(e), { kind: "wait", reason: "relay-unreachable", maybeStored: i === 0 }, 0, r0);
      waits.push(e.notBeforeMs);
    }
    expect(waits).toEqual([125, 250, 500, 1000, 2000]);
    expect(e.maybeStored).toBe(true); // one lost answer is enough: the log is checked from then on
    expect(nextWakeMs([e], 0)).toBe(2000);
    expect(nextWakeMs([e], 2000)).toBeUndefined(); // due: it waits for the connection, not a timer
    expect(connectionBack(e).notBeforeMs).toBe(0);
    const limited = attemptEnded(entry(2, "b"), { kind: "wait", reason: "rate-limited", maybeStored: false }, 0, r0);
    expect(connectionBack(limited).notBeforeMs).toBe(125);
  });

  it("DL-03 an answer that says nothing was stored leaves no doubt; a joining room rechecks without counting attempts", () => {
    const e = attemptEnded(attemptStarted(entry(1, "a")), { kind: "wait", reason: "access-denied", maybeStored: false }, 0, r0);
    expect(e.maybeStored).toBe(false);
    const j = attemptEnded(entry(2, "a"), { kind: "wait", reason: "room-joining", maybeStored: false }, 100, r0);
    expect(j).toMatchObject({ attempts: 0, notBeforeMs: 100 + ROOM_JOINING_RECHECK_MS, reason: "room-joining" });
  });

  it("DL-01 DL-04 sent by the relay's answer; an entry caught mid-attempt by a restart is queued again, to be checked against the log", () => {
    const s = attemptEnded(attemptStarted(entry(1, "a")), { kind: "posted", seq: 7, postedAtMs: 9 }, 0, r0);
    expect(s).toMatchObject({ status: "sent", seq: 7, postedAtMs: 9 });
    const mid = afterRestart(attemptStarted(entry(2, "a")));
    expect(mid).toMatchObject({ status: "queued", maybeStored: true });
  });

  it("DL-02 property: whatever happens, due entries are the oldest unfinished entry of distinct rooms", () => {
    const op = fc.record({ room: fc.constantFrom("a", "b", "c"), outcome: fc.constantFrom("posted", "wait", "fail", "none") });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        let es: OutboxEntry[] = ops.map((o, i) => entry(i, o.room));
        for (const [i, o] of ops.entries()) {
          if (o.outcome === "none") continue;
          const result =
            o.outcome === "posted"
              ? ({ kind: "posted", seq: i + 1, postedAtMs: 1 } as const)
              : o.outcome === "wait"
                ? ({ kind: "wait", reason: "relay-unreachable", maybeStored: true } as const)
                : ({ kind: "fail", reason: "rejected" } as const);
          es = es.map((e, j) => (j === i ? attemptEnded(e, result, 0, r0) : e)).filter((e) => e.status !== "sent");
        }
        const due = dueEntries(es, 1e12, none, true);
        expect(new Set(due.map((e) => e.roomId)).size).toBe(due.length);
        for (const d of due) {
          const older = es.filter((e) => e.roomId === d.roomId && e.key < d.key);
          expect(older.every((e) => e.status === "failed")).toBe(true);
        }
      }),
      { seed: 16_016, verbose: true },
    );
    console.log("post-outbox property seed 16016");
  });
});
