import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { retryAfterMs } from "../errors.js";
import { DEFAULT_RELAY_LIMITS } from "../limits.js";
import { ab, expectRelayError, makePreKeys, openHarness, randomId, registerAccount, type Harness } from "./harness.test-support.js";

let h: Harness;
beforeEach(async () => {
  h = await openHarness({ limits: { maxBundleFetchesPerMinute: 1000, maxOneTimePreKeyHandoutsPerHour: 1000 } });
});
afterEach(async () => {
  await h.close();
});

describe("KeyService (API-06..API-09)", () => {
  it("API-06/API-07: an upload is stored and counted; the same ids replace", async () => {
    const a = await registerAccount(h);
    const keys = makePreKeys(a.identity, { oneTime: 5, kyber: 4 });
    const up = await h.keys.uploadPreKeys(keys, { headers: a.headers });
    expect(up.counts).toMatchObject({ oneTimePreKeys: 5, kyberPreKeys: 4, hasSignedPreKey: true, hasLastResortKyberPreKey: true, signedPreKeyId: 1, refillThreshold: 20 });
    const again = await h.keys.uploadPreKeys(makePreKeys(a.identity, { oneTime: 5, kyber: 4 }), { headers: a.headers });
    expect(again.counts?.oneTimePreKeys).toBe(5);
    const more = await h.keys.uploadPreKeys(makePreKeys(a.identity, { oneTime: 2, kyber: 0, firstId: 50 }), { headers: a.headers });
    expect(more.counts).toMatchObject({ oneTimePreKeys: 7, kyberPreKeys: 4, signedPreKeyId: 50 });
    const counts = await h.keys.getPreKeyCounts({}, { headers: a.headers });
    expect(counts.counts).toMatchObject({ oneTimePreKeys: 7, kyberPreKeys: 4 });
    await expectRelayError(h.keys.getPreKeyCounts({}), Code.Unauthenticated, "MISSING_TOKEN");
  });

  it("API-06: bad lengths, type bytes, signatures and counts are invalid_argument and store nothing", async () => {
    const a = await registerAccount(h);
    const good = () => makePreKeys(a.identity, { oneTime: 2, kyber: 2 });
    const cases: [string, (k: ReturnType<typeof good>) => void][] = [
      ["BAD_PREKEY", (k) => void (k.oneTimePreKeys[1]!.publicKey = k.oneTimePreKeys[1]!.publicKey.slice(1))],
      ["BAD_PREKEY", (k) => void (k.oneTimePreKeys[0]!.publicKey[0] = 0x08)],
      ["BAD_PREKEY", (k) => void (k.kyberPreKeys[0]!.publicKey[0] = 0x0a)],
      ["BAD_PREKEY", (k) => void (k.signedPreKey.publicKey = new Uint8Array(1569).fill(8))],
      ["BAD_SIGNATURE_LENGTH", (k) => void (k.signedPreKey.signature = k.signedPreKey.signature.slice(2))],
      ["BAD_PREKEY_SIGNATURE", (k) => void (k.signedPreKey.signature[3] = (k.signedPreKey.signature[3] ?? 0) ^ 0x40)],
      ["BAD_PREKEY_SIGNATURE", (k) => void (k.kyberPreKeys[1]!.signature = new Uint8Array(a.identity.sign(ab(new Uint8Array(5)))))],
      ["BAD_PREKEY_SIGNATURE", (k) => void (k.lastResortKyberPreKey.publicKey[100] = (k.lastResortKyberPreKey.publicKey[100] ?? 0) ^ 1)],
      ["DUPLICATE_PREKEY_ID", (k) => void (k.oneTimePreKeys[1]!.id = k.oneTimePreKeys[0]!.id)],
    ];
    for (const [reason, mutate] of cases) {
      const k = good();
      mutate(k);
      await expectRelayError(h.keys.uploadPreKeys(k, { headers: a.headers }), Code.InvalidArgument, reason);
    }
    const tooMany = makePreKeys(a.identity, { oneTime: DEFAULT_RELAY_LIMITS.maxPreKeysPerUpload + 1, kyber: 0 });
    await expectRelayError(h.keys.uploadPreKeys(tooMany, { headers: a.headers }), Code.InvalidArgument, "TOO_MANY_PREKEYS");
    const counts = await h.keys.getPreKeyCounts({}, { headers: a.headers });
    expect(counts.counts).toMatchObject({ oneTimePreKeys: 0, kyberPreKeys: 0, hasSignedPreKey: false, hasLastResortKyberPreKey: false });
  });

  it("API-06: a signature by another identity key is rejected", async () => {
    const a = await registerAccount(h);
    const b = await registerAccount(h);
    await expectRelayError(h.keys.uploadPreKeys(makePreKeys(b.identity, { oneTime: 0, kyber: 1 }), { headers: a.headers }), Code.InvalidArgument, "BAD_PREKEY_SIGNATURE");
  });

  it("API-06: the stored-prekey cap is resource_exhausted and the upload is all-or-nothing", async () => {
    await h.close();
    h = await openHarness({ limits: { maxStoredPreKeysPerKind: 5 } });
    const a = await registerAccount(h);
    await h.keys.uploadPreKeys(makePreKeys(a.identity, { oneTime: 4, kyber: 0 }), { headers: a.headers });
    await expectRelayError(h.keys.uploadPreKeys(makePreKeys(a.identity, { oneTime: 2, kyber: 1, firstId: 10 }), { headers: a.headers }), Code.ResourceExhausted, "PREKEY_STORE_FULL");
    const counts = await h.keys.getPreKeyCounts({}, { headers: a.headers });
    expect(counts.counts).toMatchObject({ oneTimePreKeys: 4, kyberPreKeys: 0, signedPreKeyId: 1 });
  });

  it("API-08: a bundle hands out one-time keys once, then the last-resort Kyber key; NotRegistered otherwise", async () => {
    const a = await registerAccount(h);
    const b = await registerAccount(h);
    const none = await h.keys.fetchPreKeyBundle({ address: b.address }, { headers: a.headers });
    expect(none.result.case).toBe("notRegistered");
    const unknown = await h.keys.fetchPreKeyBundle({ address: randomId() }, { headers: a.headers });
    expect(unknown.result.case).toBe("notRegistered");
    const keys = makePreKeys(b.identity, { oneTime: 2, kyber: 1 });
    await h.keys.uploadPreKeys(keys, { headers: b.headers });
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await h.keys.fetchPreKeyBundle({ address: b.address }, { headers: a.headers });
      if (r.result.case !== "bundle") throw new Error("expected a bundle");
      const bundle = r.result.value;
      expect(bundle.identityKey).toEqual(b.identityKey);
      expect(bundle.registrationId).toBe(1234);
      expect(bundle.deviceId).toBe(1);
      expect(bundle.signedPreKey?.publicKey).toEqual(keys.signedPreKey.publicKey);
      if (i < 2) seen.push(Buffer.from(bundle.oneTimePreKey!.publicKey).toString("hex"));
      else expect(bundle.oneTimePreKey).toBeUndefined();
      if (i === 0) {
        expect(bundle.kyberPreKeyIsLastResort).toBe(false);
        expect(bundle.kyberPreKey?.publicKey).toEqual(keys.kyberPreKeys[0]!.publicKey);
      } else {
        expect(bundle.kyberPreKeyIsLastResort).toBe(true);
        expect(bundle.kyberPreKey?.publicKey).toEqual(keys.lastResortKyberPreKey.publicKey);
        expect(bundle.kyberPreKey?.signature).toEqual(keys.lastResortKyberPreKey.signature);
      }
    }
    expect(new Set(seen).size).toBe(2);
    const counts = await h.keys.getPreKeyCounts({}, { headers: b.headers });
    expect(counts.counts).toMatchObject({ oneTimePreKeys: 0, kyberPreKeys: 0, hasLastResortKyberPreKey: true });
    await expectRelayError(h.keys.fetchPreKeyBundle({ address: b.address.slice(1) }, { headers: a.headers }), Code.InvalidArgument, "BAD_ADDRESS");
    await expectRelayError(h.keys.fetchPreKeyBundle({ address: b.address }), Code.Unauthenticated, "MISSING_TOKEN");
  });

  it("API-08: many parallel fetches never hand out the same one-time prekey twice", async () => {
    const owner = await registerAccount(h);
    const requesters = await Promise.all(Array.from({ length: 4 }, () => registerAccount(h)));
    await h.keys.uploadPreKeys(makePreKeys(owner.identity, { oneTime: 60, kyber: 40 }), { headers: owner.headers });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => h.keys.fetchPreKeyBundle({ address: owner.address }, { headers: requesters[i % 4]!.headers })),
    );
    const ec: number[] = [];
    const kyber: number[] = [];
    let lastResort = 0;
    for (const r of results) {
      if (r.result.case !== "bundle") throw new Error("expected a bundle");
      if (r.result.value.oneTimePreKey) ec.push(r.result.value.oneTimePreKey.id);
      if (r.result.value.kyberPreKeyIsLastResort) lastResort++;
      else kyber.push(r.result.value.kyberPreKey!.id);
    }
    expect(ec.length).toBe(60);
    expect(new Set(ec).size).toBe(60);
    expect(kyber.length).toBe(40);
    expect(new Set(kyber).size).toBe(40);
    expect(lastResort).toBe(60);
  });

  it("API-09: bundle fetches are rate limited per requester and target, with RetryInfo", async () => {
    await h.close();
    h = await openHarness();
    const a = await registerAccount(h);
    const b = await registerAccount(h);
    const c = await registerAccount(h);
    await h.keys.uploadPreKeys(makePreKeys(b.identity, { oneTime: 0, kyber: 0 }), { headers: b.headers });
    for (let i = 0; i < DEFAULT_RELAY_LIMITS.maxBundleFetchesPerMinute; i++) {
      await h.keys.fetchPreKeyBundle({ address: b.address }, { headers: a.headers });
    }
    const err = await expectRelayError(h.keys.fetchPreKeyBundle({ address: b.address }, { headers: a.headers }), Code.ResourceExhausted, "RATE_LIMITED");
    const wait = retryAfterMs(err)!;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60_000);
    // Another requester, or another target, is not affected.
    await h.keys.fetchPreKeyBundle({ address: b.address }, { headers: c.headers });
    await h.keys.fetchPreKeyBundle({ address: c.address }, { headers: a.headers });
    h.clock.now += wait;
    await h.keys.fetchPreKeyBundle({ address: b.address }, { headers: a.headers });
  });
});
