import { create } from "@bufbuild/protobuf";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { KyberPreKeyRecordSchema, UsedBaseKeySchema, VerificationState } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { KeyPair } from "../crypto/curve.js";
import { TestProtocolStore } from "./protocol-store.test-support.js";
import { KEYS } from "./protocol-store.js";
import { bytesToUuid, createProtocolAddress, uuidToBytes } from "./protocol-address.js";

const alice = createProtocolAddress("0f0e0d0c-0b0a-4908-8706-050403020100");

/** `kyberPreKeyUsedWith` on Kyber prekey `id` as stored now. */
async function usedWith(store: TestProtocolStore, id: number, signedPreKeyId: number, baseKey: Uint8Array): Promise<boolean> {
  const record = await store.loadKyberPreKey(id);
  if (record === undefined) throw new Error(`no Kyber prekey ${id}`);
  return store.kyberPreKeyUsedWith(record, signedPreKeyId, baseKey);
}

describe("KvProtocolStore (the one protocol store, over a memory key-value store)", () => {
  it("trusts on first use, reports a replaced key, and trusts only the saved key (spec ID-11, ID-12)", async () => {
    const store = await TestProtocolStore.open(KeyPair.generate(), 42, () => 0);
    const first = KeyPair.generate().publicKey;
    const second = KeyPair.generate().publicKey;
    expect(await store.isTrustedIdentity(alice, first, "sending")).toBe(true);
    expect(await store.saveIdentity(alice, first)).toBe(false);
    expect(await store.saveIdentity(alice, first)).toBe(false);
    expect(await store.isTrustedIdentity(alice, second, "receiving")).toBe(false);
    expect(await store.saveIdentity(alice, second)).toBe(true);
    expect(await store.isTrustedIdentity(alice, second, "sending")).toBe(true);
    expect(await store.isTrustedIdentity(alice, first, "sending")).toBe(false);
    expect((await store.getIdentity(alice))?.equals(second)).toBe(true);
  });

  it("ID-12 an identity marked CHANGED is not sent to until accepted; receiving still checks the key", async () => {
    const store = await TestProtocolStore.open(KeyPair.generate(), 42, () => 0);
    const key = KeyPair.generate().publicKey;
    await store.saveIdentity(alice, key);
    const setVerification = (v: VerificationState) =>
      store.tx(async () => {
        const record = store.store.trustedRecord(alice.name)!;
        record.verification = v;
        store.store.putTrustedRecord(alice.name, record);
      });
    await setVerification(VerificationState.CHANGED);
    expect(await store.isTrustedIdentity(alice, key, "sending")).toBe(false);
    expect(await store.isTrustedIdentity(alice, key, "receiving")).toBe(true);
    await setVerification(VerificationState.UNSPECIFIED);
    expect(await store.isTrustedIdentity(alice, key, "sending")).toBe(true);
  });

  it("removes a used one-time Kyber prekey and remembers uses of a last-resort one (spec PX-11)", async () => {
    const store = await TestProtocolStore.open(KeyPair.generate(), 42, () => 0);
    const base = (fill: number) => new Uint8Array(33).fill(fill);
    await store.storeKyberPreKey(create(KyberPreKeyRecordSchema, { id: 1, lastResort: false }));
    await store.storeKyberPreKey(create(KyberPreKeyRecordSchema, { id: 2, lastResort: true }));
    const lastResortBytes = store.snapshot().get(KEYS.kyberPreKey + 2);
    await store.markKyberPreKeyUsed(1, 7, base(1));
    await store.markKyberPreKeyUsed(2, 7, base(2));
    await store.markKyberPreKeyUsed(2, 8, base(3));
    expect(await store.loadKyberPreKey(1)).toBeUndefined();
    expect(await usedWith(store, 2, 7, base(2))).toBe(true);
    expect(await usedWith(store, 2, 8, base(3))).toBe(true);
    // Each pair on its own: same base key with another signed prekey, or another base key.
    expect(await usedWith(store, 2, 8, base(2))).toBe(false);
    expect(await usedWith(store, 2, 7, base(4))).toBe(false);
    expect(store.rememberedKyberUses(2)).toBe(2);
    // The record itself is not rewritten by a use: a use is one small entry.
    expect(store.snapshot().get(KEYS.kyberPreKey + 2)).toEqual(lastResortBytes);
  });

  it("PX-11: uses of a record written by an earlier version (used_base_keys) are still refused", async () => {
    const store = await TestProtocolStore.open(KeyPair.generate(), 42, () => 0);
    const baseKey = new Uint8Array(33).fill(9);
    await store.storeKyberPreKey(
      create(KyberPreKeyRecordSchema, { id: 3, lastResort: true, usedBaseKeys: [create(UsedBaseKeySchema, { signedPreKeyId: 5, baseKey })] }),
    );
    expect(await usedWith(store, 3, 5, baseKey)).toBe(true);
    expect(await usedWith(store, 3, 6, baseKey)).toBe(false);
  });

  it("remembered uses are forgotten with their Kyber key, or with the signed prekey they name (ID-10, PX-11)", async () => {
    const store = await TestProtocolStore.open(KeyPair.generate(), 42, () => 0);
    const base = (fill: number) => new Uint8Array(33).fill(fill);
    for (const id of [2, 12]) await store.storeKyberPreKey(create(KyberPreKeyRecordSchema, { id, lastResort: true }));
    await store.markKyberPreKeyUsed(2, 7, base(1));
    await store.markKyberPreKeyUsed(2, 8, base(2));
    await store.markKyberPreKeyUsed(12, 7, base(3));
    await store.markKyberPreKeyUsed(12, 70, base(4));
    // Signed prekey 7 replaced and deleted: the uses naming it go, 70 and 8 stay.
    await store.tx(async () => store.store.removeSignedPreKey(7));
    expect(await usedWith(store, 2, 7, base(1))).toBe(false);
    expect(await usedWith(store, 12, 7, base(3))).toBe(false);
    expect(await usedWith(store, 2, 8, base(2))).toBe(true);
    expect(await usedWith(store, 12, 70, base(4))).toBe(true);
    // Kyber key 2 deleted: its uses go; key 12's stay.
    await store.tx(async () => store.store.removeKyberPreKey(2));
    expect(store.rememberedKyberUses(2)).toBe(0);
    expect(store.rememberedKyberUses(12)).toBe(1);
    expect([...store.snapshot().keys()].filter((k) => k.startsWith(KEYS.kyberPreKeyUse))).toEqual([`${KEYS.kyberPreKeyUse}12/70/${"04".repeat(33)}`]);
  });

  it("snapshot/restore reproduces the same bytes, and handed-out records do not alias stored ones", async () => {
    const store = await TestProtocolStore.open(KeyPair.generate(), 42, () => 5);
    await store.storeKyberPreKey(create(KyberPreKeyRecordSchema, { id: 2, lastResort: true }));
    await store.saveIdentity(alice, KeyPair.generate().publicKey);
    const snapshot = store.snapshot();
    const loaded = await store.loadKyberPreKey(2);
    loaded?.usedBaseKeys.push(create(UsedBaseKeySchema, { signedPreKeyId: 1, baseKey: new Uint8Array(33) }));
    expect(store.snapshot()).toEqual(snapshot);
    const other = await TestProtocolStore.open(KeyPair.generate(), 43, () => 5, snapshot);
    expect(other.snapshot()).toEqual(snapshot);
  });

  it("prints as a redacted tag (STYLE.md, Secrets)", async () => {
    const { store } = await TestProtocolStore.open(KeyPair.generate(), 42, () => 0);
    expect(String(store)).toBe("[KvProtocolStore: redacted]");
    expect(JSON.stringify({ store })).toBe('{"store":"[KvProtocolStore: redacted]"}');
    expect(inspect(store)).toBe("[KvProtocolStore: redacted]");
  });

  it("UUID addresses convert both ways", () => {
    expect(bytesToUuid(uuidToBytes(alice.name))).toBe(alice.name);
    expect(() => createProtocolAddress("not-a-uuid")).toThrow(TypeError);
    expect(() => createProtocolAddress(alice.name, 0)).toThrow(RangeError);
  });
});
