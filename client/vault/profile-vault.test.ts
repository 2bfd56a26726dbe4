import { describe, expect, it } from "vitest";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { aes256GcmDecrypt, aes256GcmEncrypt } from "../crypto/cipher.js";
import { concatBytes, randomBytes, utf8 } from "../crypto/bytes.js";
import { openProfileVault, isVaultError, VAULT_HEADER_KEY, type DeviceKeyWrap, type ProfileVault } from "./profile-vault.js";
import { RoomHistory } from "./room-history.js";

/** A device key held in memory (the web holds a non-extractable WebCrypto key instead). */
function memoryDevice(): DeviceKeyWrap {
  const key = randomBytes(32);
  return {
    async seal(p) {
      const n = randomBytes(12);
      return concatBytes(n, aes256GcmEncrypt(key, n, p, new Uint8Array()));
    },
    async open(s) {
      return aes256GcmDecrypt(key, s.subarray(0, 12), s.subarray(12), new Uint8Array());
    },
  };
}

const FAST = { scrypt: { logN: 10, r: 8, p: 1 } };
const SECRET = "Meet at the north gate";

/** Every byte in the backing store, keys and values, as Latin-1 text to search. */
async function dump(store: MemoryKeyValueStore): Promise<string> {
  return (await store.list("")).map(([k, v]) => k + "=" + String.fromCharCode(...v)).join("\n");
}

async function ready(backing: MemoryKeyValueStore, device: DeviceKeyWrap): Promise<ProfileVault> {
  const opened = await openProfileVault(backing, device, FAST);
  if (opened.locked) throw new Error("unexpectedly locked");
  return opened.vault;
}

describe("profile vault", () => {
  it("encrypts every value: names, text and secrets never appear in the backing store", async () => {
    const backing = new MemoryKeyValueStore();
    const device = memoryDevice();
    const vault = await ready(backing, device);
    await vault.clientStore.write([{ key: "room/1/name", value: utf8("Book club") }]);
    const history = new RoomHistory(vault.historyStore);
    await history.put("r1", { key: "m1", kind: "message", seq: 1, sender: "a", senderName: "Alice", text: SECRET, atMs: 1, own: false });
    const text = await dump(backing);
    for (const needle of ["Book club", "Alice", "Meet at", "north gate"]) expect(text).not.toContain(needle);
    // And it reads back, also after reopening with the same device key.
    const again = await ready(backing, device);
    expect(new TextDecoder().decode(await again.clientStore.get("room/1/name"))).toBe("Book club");
    expect((await new RoomHistory(again.historyStore).load("r1")).map((l) => l.text)).toEqual([SECRET]);
  });

  it("migrates a profile written in the clear, in one batch", async () => {
    const backing = new MemoryKeyValueStore();
    await backing.write([{ key: "account/identity", value: utf8("identity bytes of Alice") }]);
    const vault = await ready(backing, memoryDevice());
    expect(await dump(backing)).not.toContain("Alice");
    expect(new TextDecoder().decode(await vault.clientStore.get("account/identity"))).toBe("identity bytes of Alice");
    expect((await vault.clientStore.list("")).map(([k]) => k)).toEqual(["account/identity"]);
  });

  it("a value moved under another key or altered is a typed error, not another value", async () => {
    const backing = new MemoryKeyValueStore();
    const vault = await ready(backing, memoryDevice());
    await vault.clientStore.write([{ key: "a", value: utf8("one") }, { key: "b", value: utf8("two") }]);
    const a = (await backing.get("c/a"))!;
    await backing.write([{ key: "c/b", value: a }]); // swap: a relay of sorts inside the disk
    await expect(vault.clientStore.get("b")).rejects.toSatisfy((e) => isVaultError(e, "corrupt"));
    a[a.length - 1]! ^= 1;
    await backing.write([{ key: "c/a", value: a }]);
    await expect(vault.clientStore.get("a")).rejects.toSatisfy((e) => isVaultError(e, "corrupt"));
  });

  it("a passphrase locks the profile: without it nothing opens, the device key alone is not enough", async () => {
    const backing = new MemoryKeyValueStore();
    const device = memoryDevice();
    const vault = await ready(backing, device);
    await vault.clientStore.write([{ key: "k", value: utf8("room secret") }]);
    await expect(vault.setPassphrase("short")).rejects.toSatisfy((e) => isVaultError(e, "weak_passphrase"));
    await vault.setPassphrase("a long enough passphrase");
    expect(vault.hasPassphrase).toBe(true);
    expect(new TextDecoder().decode(await backing.get(VAULT_HEADER_KEY))).toContain('"mode":"passphrase"');

    const locked = await openProfileVault(backing, device, FAST);
    expect(locked.locked).toBe(true);
    if (!locked.locked) return;
    await expect(locked.unlock("a wrong passphrase")).rejects.toSatisfy((e) => isVaultError(e, "wrong_passphrase"));
    const unlocked = await locked.unlock("a long enough passphrase");
    expect(new TextDecoder().decode(await unlocked.clientStore.get("k"))).toBe("room secret");

    await unlocked.removePassphrase();
    expect((await openProfileVault(backing, device, FAST)).locked).toBe(false);
  });

  it("a closed vault forgets its key", async () => {
    const vault = await ready(new MemoryKeyValueStore(), memoryDevice());
    await vault.close();
    await expect(vault.clientStore.get("x")).rejects.toSatisfy((e) => isVaultError(e, "closed"));
    expect(String(vault)).toBe("[ProfileVault]");
  });
});

describe("room history", () => {
  const line = (key: string, atMs: number, seq?: number) => ({
    key,
    kind: "message" as const,
    ...(seq !== undefined ? { seq } : {}),
    sender: "a",
    senderName: "A",
    text: key,
    atMs,
    own: false,
  });

  it("keeps lines in relay order and deletes what the retention no longer allows", async () => {
    let now = 10 * 60 * 60 * 1000;
    const store = new MemoryKeyValueStore();
    const h = new RoomHistory(store, () => now);
    await h.put("r", line("new", now - 1000, 3));
    await h.put("r", line("old", now - 2 * 60 * 60 * 1000, 1));
    await h.put("r", line("mid", now - 30 * 60 * 1000, 2));
    await h.put("other", line("else", 0, 1));
    expect((await h.load("r")).map((l) => l.key)).toEqual(["old", "mid", "new"]);
    await h.setRetention("r", "hour");
    expect(await h.retention("r")).toBe("hour");
    expect((await h.load("r")).map((l) => l.key)).toEqual(["mid", "new"]);
    expect(await store.get("line/r/old")).toBeUndefined(); // deleted, not only hidden
    now += 31 * 60 * 1000;
    expect((await h.load("r")).map((l) => l.key)).toEqual(["new"]);
    await h.clear("r");
    expect(await h.load("r")).toEqual([]);
    expect((await h.load("other")).map((l) => l.key)).toEqual(["else"]);
  });
});
