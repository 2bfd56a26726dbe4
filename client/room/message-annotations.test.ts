import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Annotation, applyAnnotation, MAX_REACTION_EMOJI_BYTES, parseTracked, serializeTracked, type TrackedMessage, validEmoji, validTargetId, viewOf } from "./message-annotations.js";

const A = "alice";
const B = "bob";
const M = "mallory";

function fold(ops: readonly Annotation[]): { record: TrackedMessage | undefined; forged: string[]; reused: number } {
  let record: TrackedMessage | undefined;
  const forged: string[] = [];
  let reused = 0;
  for (const op of ops) {
    const s = applyAnnotation(record, op);
    record = s.record;
    forged.push(...s.forged.map((f) => `${f.kind}:${f.sender}`));
    if (s.reusedId) reused++;
  }
  return { record, forged: forged.sort(), reused };
}

describe("message annotations (spec/09-rooms.md RM-60..RM-66)", () => {
  it("RM-63: the author's latest edit by seq is shown, marked edited", () => {
    const { record } = fold([
      { kind: "text", seq: 1, sender: A },
      { kind: "edit", seq: 5, sender: A, text: "second" },
      { kind: "edit", seq: 3, sender: A, text: "first" },
    ]);
    expect(viewOf(record)).toMatchObject({ known: true, editedText: "second", edited: true, deleted: false });
  });

  it("RM-63 RM-64: an edit or delete from another member is reported as forged and changes nothing", () => {
    const text = applyAnnotation(undefined, { kind: "text", seq: 1, sender: A });
    const edit = applyAnnotation(text.record, { kind: "edit", seq: 2, sender: M, text: "lies" });
    expect(edit.forged).toEqual([{ kind: "edit", sender: M }]);
    expect(edit.record).toBe(text.record);
    const del = applyAnnotation(text.record, { kind: "delete", seq: 3, sender: M });
    expect(del.forged).toEqual([{ kind: "delete", sender: M }]);
    expect(viewOf(del.record)).toMatchObject({ deleted: false, edited: false });
  });

  it("RM-65: a forged edit that arrives before its target is reported when the target arrives", () => {
    const early = applyAnnotation(undefined, { kind: "edit", seq: 4, sender: M, text: "lies" });
    expect(early.forged).toEqual([]);
    expect(viewOf(early.record).known).toBe(false);
    const target = applyAnnotation(early.record, { kind: "text", seq: 2, sender: A });
    expect(target.forged).toEqual([{ kind: "edit", sender: M }]);
    expect(viewOf(target.record)).toMatchObject({ known: true, edited: false });
    expect(JSON.stringify(target.record)).not.toContain("lies");
  });

  it("RM-64: a delete is final: the text of edits and the reactions are dropped, later edits and reactions ignored", () => {
    const { record } = fold([
      { kind: "text", seq: 1, sender: A },
      { kind: "edit", seq: 2, sender: A, text: "secret edit" },
      { kind: "reaction", seq: 3, sender: B, name: "Bob", emoji: "👍", remove: false },
      { kind: "delete", seq: 4, sender: A },
      { kind: "edit", seq: 5, sender: A, text: "after delete" },
      { kind: "reaction", seq: 6, sender: B, name: "Bob", emoji: "🎉", remove: false },
    ]);
    expect(viewOf(record)).toEqual({ known: true, edited: false, deleted: true, reactions: [] });
    expect(JSON.stringify(record)).not.toMatch(/secret edit|after delete|👍|🎉/);
  });

  it("RM-64: a delete that arrives before its target leaves only a tombstone, and keeps no edit text", () => {
    const { record } = fold([
      { kind: "edit", seq: 3, sender: A, text: "edit text" },
      { kind: "delete", seq: 4, sender: A },
      { kind: "text", seq: 2, sender: A },
    ]);
    expect(viewOf(record)).toMatchObject({ deleted: true, edited: false });
    expect(JSON.stringify(record)).not.toContain("edit text");
  });

  it("RM-62: one reaction per member: a new emoji replaces the old, a remove clears it, counts list who reacted", () => {
    const { record } = fold([
      { kind: "text", seq: 1, sender: A },
      { kind: "reaction", seq: 2, sender: B, name: "Bob", emoji: "👍", remove: false },
      { kind: "reaction", seq: 3, sender: A, name: "Alice", emoji: "👍", remove: false },
      { kind: "reaction", seq: 4, sender: B, name: "Bob", emoji: "❤️", remove: false },
      { kind: "reaction", seq: 5, sender: M, name: "Mal", emoji: "😂", remove: false },
      { kind: "reaction", seq: 6, sender: M, name: "Mal", emoji: "", remove: true },
    ]);
    expect(viewOf(record).reactions).toEqual([
      { emoji: "👍", members: [{ address: A, name: "Alice" }] },
      { emoji: "❤️", members: [{ address: B, name: "Bob" }] },
    ]);
  });

  it("RM-60: a text reusing an id another member's text has is refused; the same sender's repeat is a duplicate", () => {
    const first = applyAnnotation(undefined, { kind: "text", seq: 1, sender: A });
    expect(applyAnnotation(first.record, { kind: "text", seq: 9, sender: M }).reusedId).toBe(true);
    const dup = applyAnnotation(first.record, { kind: "text", seq: 9, sender: A });
    expect(dup.reusedId).toBe(false);
    expect(dup.changed).toBe(false);
  });

  it("RM-60 RM-62: target ids are 16 bytes; emoji are 1..32 bytes without controls or spaces", () => {
    expect(validTargetId(new Uint8Array(16))).toBe(true);
    expect(validTargetId(new Uint8Array(15))).toBe(false);
    expect(validEmoji("👍")).toBe(true);
    expect(validEmoji("👨‍👩‍👧‍👦")).toBe(true);
    expect(validEmoji("")).toBe(false);
    expect(validEmoji("a b")).toBe(false);
    expect(validEmoji("\u202e👍")).toBe(false);
    expect(validEmoji("x".repeat(MAX_REACTION_EMOJI_BYTES + 1))).toBe(false);
  });

  it("stored records round-trip; malformed bytes are treated as nothing kept", () => {
    const { record } = fold([{ kind: "text", seq: 1, sender: A }, { kind: "edit", seq: 2, sender: A, text: "é" }]);
    expect(parseTracked(serializeTracked(record!))).toEqual(record);
    expect(parseTracked(new Uint8Array([0xff, 0x00]))).toBeUndefined();
    expect(parseTracked(new TextEncoder().encode("[]"))).toBeUndefined();
  });

  it("RM-65 regression (seed 1010735037): a forger's edit is reported even when its own delete of the target arrived first", () => {
    const ops: Annotation[] = [
      { kind: "text", seq: 1, sender: A },
      { kind: "delete", seq: 3, sender: B },
      { kind: "edit", seq: 5, sender: A, text: " " },
      { kind: "delete", seq: 6, sender: A },
      { kind: "edit", seq: 9, sender: B, text: " " },
      { kind: "delete", seq: 10, sender: A },
    ];
    const shuffled = [ops[4]!, ops[1]!, ops[0]!, ops[5]!, ops[3]!, ops[2]!];
    expect(new Set(fold(shuffled).forged)).toEqual(new Set(["delete:bob", "edit:bob"]));
    expect(new Set(fold(ops).forged)).toEqual(new Set(["delete:bob", "edit:bob"]));
  });

  it("RM-65: any permutation of the same operations gives the same view and reports the same forgers", () => {
    const member = fc.constantFrom(A, B, M);
    const opArb = (seq: number): fc.Arbitrary<Annotation> =>
      fc.oneof(
        member.map((sender) => ({ kind: "text" as const, seq, sender })),
        fc.tuple(member, fc.string({ minLength: 1, maxLength: 4 })).map(([sender, text]) => ({ kind: "edit" as const, seq, sender, text })),
        member.map((sender) => ({ kind: "delete" as const, seq, sender })),
        fc.tuple(member, fc.constantFrom("👍", "❤️", "😂"), fc.boolean()).map(([sender, emoji, remove]) => ({ kind: "reaction" as const, seq, sender, name: sender, emoji: remove ? "" : emoji, remove })),
      );
    // Distinct seqs (the relay's order), one text first in the log (the target) and any later
    // operations; then the same set applied in a random order.
    const scenario = fc
      .tuple(member, fc.integer({ min: 0, max: 12 }))
      .chain(([author, n]) =>
        fc.tuple(
          fc.constant({ kind: "text" as const, seq: 1, sender: author }),
          fc.tuple(...Array.from({ length: n }, (_, i) => opArb(i + 2))).map((ops) => ops.filter((o) => o.kind !== "text")),
        ),
      )
      .chain(([text, ops]) => {
        const all: Annotation[] = [text, ...ops];
        return fc.tuple(fc.constant(all), fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }));
      });
    const seed = Date.now() ^ 0x5eed;
    console.log(`message-annotations permutation property seed ${seed}`);
    fc.assert(
      fc.property(scenario, ([bySeq, shuffled]) => {
        const a = fold(bySeq);
        const b = fold(shuffled);
        expect(viewOf(b.record)).toEqual(viewOf(a.record));
        // Forgeries kept before their target share one slot per forger and kind: each forger
        // and kind is reported, whatever the order (a repeat may be reported once).
        expect(new Set(b.forged)).toEqual(new Set(a.forged));
        // Nothing a delete removed survives in storage, whatever the order.
        if (viewOf(a.record).deleted) expect(Object.keys(b.record!.edits)).toEqual([]);
      }),
      { seed, numRuns: 500 },
    );
  });
});
