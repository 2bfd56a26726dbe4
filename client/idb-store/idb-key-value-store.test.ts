// Tests of the IndexedDB KeyValueStore on fake-indexeddb (a full in-memory IndexedDB for
// Node); the same store runs in real Chromium in web/e2e.
import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryKeyValueStore, type KeyValueWrite } from "../store/kv-store.js";
import {
  deleteIndexedDbKeyValueStore,
  openIndexedDbKeyValueStore,
} from "./idb-key-value-store.js";

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe("IndexedDbKeyValueStore", () => {
  it("stores, reads and deletes values", async () => {
    const store = await openIndexedDbKeyValueStore({ indexedDB: new IDBFactory() });
    expect(await store.get("missing")).toBeUndefined();
    await store.write([{ key: "a", value: bytes(1, 2, 3) }]);
    expect(await store.get("a")).toEqual(bytes(1, 2, 3));
    await store.write([{ key: "a", value: undefined }]);
    expect(await store.get("a")).toBeUndefined();
    await store.close();
  });

  it("lists exactly the keys with a prefix, sorted", async () => {
    const store = await openIndexedDbKeyValueStore({ indexedDB: new IDBFactory() });
    const keys = ["room/b", "room/a", "room", "roon", "roo", "room/\uffff\uffff", "a", "room/\u00e9"];
    await store.write(keys.map((key, i) => ({ key, value: bytes(i) })));
    const listed = (await store.list("room/")).map(([k]) => k);
    expect(listed).toEqual(["room/a", "room/b", "room/\u00e9", "room/\uffff\uffff"]);
    expect((await store.list("")).map(([k]) => k)).toEqual([...keys].sort());
    expect(await store.list("zzz")).toEqual([]);
    await store.close();
  });

  it("applies a batch with a bad value not at all", async () => {
    const store = await openIndexedDbKeyValueStore({ indexedDB: new IDBFactory() });
    await store.write([{ key: "keep", value: bytes(7) }]);
    const bad = [
      { key: "new", value: bytes(1) },
      { key: "keep", value: undefined },
      { key: "oops", value: "text" as unknown as Uint8Array },
    ];
    await expect(store.write(bad)).rejects.toThrow(TypeError);
    expect(await store.list("")).toEqual([["keep", bytes(7)]]);
    await store.close();
  });

  it("copies values in and out (views store only their own bytes)", async () => {
    const store = await openIndexedDbKeyValueStore({ indexedDB: new IDBFactory() });
    const buffer = bytes(9, 8, 7, 6, 5);
    const view = buffer.subarray(1, 3);
    await store.write([{ key: "v", value: view }]);
    buffer.fill(0);
    const first = await store.get("v");
    expect(first).toEqual(bytes(8, 7));
    first!.fill(1);
    expect(await store.get("v")).toEqual(bytes(8, 7));
    await store.close();
  });

  it("keeps data across close and reopen, and deletes the whole database", async () => {
    const factory = new IDBFactory();
    const a = await openIndexedDbKeyValueStore({ indexedDB: factory, name: "t" });
    await a.write([{ key: "identity", value: bytes(5, 5) }]);
    await a.close();
    await expect(a.get("identity")).rejects.toThrow("closed");
    const b = await openIndexedDbKeyValueStore({ indexedDB: factory, name: "t" });
    expect(await b.get("identity")).toEqual(bytes(5, 5));
    await b.close();
    await deleteIndexedDbKeyValueStore({ indexedDB: factory, name: "t" });
    const c = await openIndexedDbKeyValueStore({ indexedDB: factory, name: "t" });
    expect(await c.list("")).toEqual([]);
    await c.close();
  });

  it("behaves like MemoryKeyValueStore under random batches", async () => {
    const key = fc.string({ unit: fc.constantFrom("a", "b", "/", "\u00e9", "\uffff"), maxLength: 4 });
    const write: fc.Arbitrary<KeyValueWrite> = fc.record({
      key,
      value: fc.option(fc.uint8Array({ maxLength: 6 }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(write, { maxLength: 6 }), { maxLength: 6 }), key, async (batches, prefix) => {
        const idb = await openIndexedDbKeyValueStore({ indexedDB: new IDBFactory() });
        const model = new MemoryKeyValueStore();
        for (const batch of batches) {
          await idb.write(batch);
          await model.write(batch);
        }
        expect(await idb.list(prefix)).toEqual(await model.list(prefix));
        expect(await idb.list("")).toEqual(await model.list(""));
        await idb.close();
      }),
      { numRuns: 60 },
    );
  });
});
