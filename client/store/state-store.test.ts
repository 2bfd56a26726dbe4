import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type KeyValueStore, type KeyValueWrite, MemoryKeyValueStore } from "./kv-store.js";
import { StateStore } from "./state-store.js";

const b = (s: string) => new TextEncoder().encode(s);

/** A store whose writes fail on demand, to prove all-or-nothing commits. */
class FlakyStore implements KeyValueStore {
  readonly inner = new MemoryKeyValueStore();
  failNext = false;
  get(key: string) {
    return this.inner.get(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  async write(batch: ReadonlyArray<KeyValueWrite>) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("disk full");
    }
    return this.inner.write(batch);
  }
}

describe("MemoryKeyValueStore", () => {
  it("lists by prefix in key order, deletes with undefined, copies values in and out", async () => {
    const kv = new MemoryKeyValueStore();
    const v = b("x");
    await kv.write([
      { key: "room/b", value: b("2") },
      { key: "room/a", value: v },
      { key: "other", value: b("3") },
    ]);
    v[0] = 0;
    expect((await kv.list("room/")).map(([k]) => k)).toEqual(["room/a", "room/b"]);
    expect(await kv.get("room/a")).toEqual(b("x"));
    (await kv.get("room/a"))![0] = 0;
    expect(await kv.get("room/a")).toEqual(b("x"));
    await kv.write([{ key: "room/a", value: undefined }]);
    expect(await kv.get("room/a")).toBeUndefined();
  });

  it("rejects a batch with a bad value without applying any of it", async () => {
    const kv = new MemoryKeyValueStore();
    await expect(kv.write([{ key: "a", value: b("1") }, { key: "b", value: "no" as never }])).rejects.toThrow(TypeError);
    expect(await kv.get("a")).toBeUndefined();
  });
});

describe("StateStore (RM-15: effects and last_seq commit together)", () => {
  it("commits every write of a transaction as one batch, or none when it throws", async () => {
    const kv = new FlakyStore();
    const s = await StateStore.open(kv);
    await s.transaction(async (t) => {
      t.put("a", b("1"));
      t.put("b", b("2"));
    });
    await expect(
      s.transaction(async (t) => {
        t.put("a", b("changed"));
        t.delete("b");
        throw new Error("protocol failure");
      }),
    ).rejects.toThrow("protocol failure");
    kv.failNext = true;
    await expect(s.transaction(async (t) => t.put("c", b("3")))).rejects.toThrow("disk full");
    expect(s.get("a")).toEqual(b("1"));
    expect(s.get("b")).toEqual(b("2"));
    expect(s.get("c")).toBeUndefined();
    expect(await kv.get("c")).toBeUndefined();
    // Reopening sees exactly the committed state.
    const again = await StateStore.open(kv);
    expect(again.list("").map(([k]) => k)).toEqual(["a", "b"]);
  });

  it("reads its own writes inside a transaction, deletes included, and runs transactions one at a time", async () => {
    const s = await StateStore.open(new MemoryKeyValueStore());
    await s.transaction(async (t) => t.put("k/1", b("x")));
    const order: string[] = [];
    const first = s.transaction(async (t) => {
      t.delete("k/1");
      expect(t.get("k/1")).toBeUndefined();
      expect(s.get("k/1")).toBeUndefined();
      expect(t.list("k/")).toEqual([]);
      await new Promise((r) => setTimeout(r, 10));
      order.push("first");
    });
    const second = s.transaction(async () => void order.push("second"));
    await Promise.all([first, second]);
    expect(order).toEqual(["first", "second"]);
  });

  it("property: a sequence of committed and aborted transactions equals applying only the committed ones", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            ops: fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.option(fc.uint8Array({ maxLength: 4 }), { nil: undefined })), { maxLength: 5 }),
            abort: fc.boolean(),
          }),
          { maxLength: 8 },
        ),
        async (txs) => {
          const kv = new MemoryKeyValueStore();
          const s = await StateStore.open(kv);
          const model = new Map<string, Uint8Array>();
          for (const tx of txs) {
            await s
              .transaction(async (t) => {
                for (const [k, v] of tx.ops) (v === undefined ? t.delete(k) : t.put(k, v));
                if (tx.abort) throw new Error("abort");
              })
              .catch(() => undefined);
            if (!tx.abort) for (const [k, v] of tx.ops) (v === undefined ? model.delete(k) : model.set(k, v));
          }
          const stored = new Map(await kv.list(""));
          expect(stored).toEqual(model);
        },
      ),
      { numRuns: 100 },
    );
  });
});
