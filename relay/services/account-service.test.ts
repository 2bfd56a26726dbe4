import { Code } from "@connectrpc/connect";
import { PrivateKey } from "@signalapp/libsignal-client";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkSenderCertificate, addressFromIdentityKey } from "../../client/server/index.js";
import { bearerHeader, sha256 } from "../auth.js";
import { retryAfterMs } from "../errors.js";
import { DEFAULT_RELAY_LIMITS } from "../limits.js";
import { DATABASE_FILE } from "../store/sqlite-store.js";
import { authSignatureMessage } from "./account-service.js";
import { ab, expectRelayError, makePreKeys, openHarness, randomId, randomKey, registerAccount, type Harness } from "./harness.test-support.js";

let h: Harness;
beforeEach(async () => {
  h = await openHarness();
});
afterEach(async () => {
  await h.close();
});

async function challengeFor(identity: PrivateKey) {
  const identityKey = new Uint8Array(identity.getPublicKey().serialize());
  const { challenge, expiresAtMs } = await h.account.createChallenge({ identityKey });
  return { identityKey, challenge, expiresAtMs, signature: new Uint8Array(identity.sign(ab(authSignatureMessage(challenge, identityKey)))) };
}

describe("AccountService (API-01..API-05)", () => {
  it("API-02/API-03: a signed challenge yields a token; the account is created once; address = addressFromIdentityKey", async () => {
    const identity = PrivateKey.generate();
    const c = await challengeFor(identity);
    expect(c.challenge.length).toBe(32);
    expect(Number(c.expiresAtMs)).toBe(h.clock.now + DEFAULT_RELAY_LIMITS.challengeLifetimeMs);
    const first = await h.account.proveIdentity({ ...c, registrationId: 7 });
    expect(first.created).toBe(true);
    expect(first.token.length).toBe(32);
    expect(first.address).toEqual(addressFromIdentityKey(c.identityKey));
    expect(Number(first.expiresAtMs)).toBe(h.clock.now + DEFAULT_RELAY_LIMITS.tokenLifetimeMs);
    const again = await challengeFor(identity);
    const second = await h.account.proveIdentity({ ...again, registrationId: 7 });
    expect(second.created).toBe(false);
    expect(second.token).not.toEqual(first.token);
    // The token is usable, and only its hash is stored.
    await h.keys.getPreKeyCounts({}, { headers: { authorization: bearerHeader(first.token) } });
    const db = new Database(join(h.dataDir, DATABASE_FILE), { readonly: true });
    const rows = db.prepare("SELECT token_hash FROM tokens").all() as { token_hash: Buffer }[];
    db.close();
    expect(rows.map((r) => Buffer.from(r.token_hash).toString("hex")).sort()).toEqual(
      [sha256(first.token), sha256(second.token)].map((b) => Buffer.from(b).toString("hex")).sort(),
    );
  });

  it("API-02: a malformed identity key is invalid_argument", async () => {
    await expectRelayError(h.account.createChallenge({ identityKey: new Uint8Array(32) }), Code.InvalidArgument, "BAD_IDENTITY_KEY");
    const wrongType = new Uint8Array(33).fill(1);
    await expectRelayError(h.account.createChallenge({ identityKey: wrongType }), Code.InvalidArgument, "BAD_IDENTITY_KEY");
  });

  it("API-02: a challenge is single use, expires, and is bound to its key; bad signatures are unauthenticated", async () => {
    const identity = PrivateKey.generate();
    const c = await challengeFor(identity);
    await h.account.proveIdentity({ ...c, registrationId: 1 });
    await expectRelayError(h.account.proveIdentity({ ...c, registrationId: 1 }), Code.Unauthenticated, "BAD_CHALLENGE_PROOF");

    const expired = await challengeFor(identity);
    h.clock.now += DEFAULT_RELAY_LIMITS.challengeLifetimeMs + 1;
    await expectRelayError(h.account.proveIdentity({ ...expired, registrationId: 1 }), Code.Unauthenticated, "BAD_CHALLENGE_PROOF");

    const other = PrivateKey.generate();
    const forOther = await challengeFor(other);
    const mine = new Uint8Array(identity.getPublicKey().serialize());
    const sig = new Uint8Array(identity.sign(ab(authSignatureMessage(forOther.challenge, mine))));
    await expectRelayError(h.account.proveIdentity({ identityKey: mine, challenge: forOther.challenge, signature: sig, registrationId: 1 }), Code.Unauthenticated, "BAD_CHALLENGE_PROOF");

    const bad = await challengeFor(identity);
    const flipped = bad.signature.slice();
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    await expectRelayError(h.account.proveIdentity({ ...bad, signature: flipped, registrationId: 1 }), Code.Unauthenticated, "BAD_SIGNATURE");
    // A wrong signature still used the challenge up.
    await expectRelayError(h.account.proveIdentity({ ...bad, registrationId: 1 }), Code.Unauthenticated, "BAD_CHALLENGE_PROOF");
    const unknown = await challengeFor(identity);
    await expectRelayError(h.account.proveIdentity({ ...unknown, challenge: randomKey(), registrationId: 1 }), Code.Unauthenticated, "BAD_CHALLENGE_PROOF");
  });

  it("API-02: malformed proof fields are invalid_argument", async () => {
    const c = await challengeFor(PrivateKey.generate());
    await expectRelayError(h.account.proveIdentity({ ...c, signature: c.signature.slice(1), registrationId: 1 }), Code.InvalidArgument, "BAD_SIGNATURE_LENGTH");
    await expectRelayError(h.account.proveIdentity({ ...c, challenge: c.challenge.slice(1), registrationId: 1 }), Code.InvalidArgument, "BAD_CHALLENGE");
    await expectRelayError(h.account.proveIdentity({ ...c, registrationId: 0 }), Code.InvalidArgument, "BAD_REGISTRATION_ID");
    await expectRelayError(h.account.proveIdentity({ ...c, registrationId: 16381 }), Code.InvalidArgument, "BAD_REGISTRATION_ID");
    await expectRelayError(h.account.proveIdentity({ ...c, identityKey: c.identityKey.slice(1), registrationId: 1 }), Code.InvalidArgument, "BAD_IDENTITY_KEY");
    // The challenge was not consumed by the rejected attempts.
    await h.account.proveIdentity({ ...c, registrationId: 1 });
  });

  it("API-02: challenges are rate limited per identity key with RetryInfo", async () => {
    const identityKey = new Uint8Array(PrivateKey.generate().getPublicKey().serialize());
    for (let i = 0; i < DEFAULT_RELAY_LIMITS.maxChallengesPerMinute; i++) await h.account.createChallenge({ identityKey });
    const err = await expectRelayError(h.account.createChallenge({ identityKey }), Code.ResourceExhausted, "RATE_LIMITED");
    expect(retryAfterMs(err)).toBeGreaterThan(0);
    h.clock.now += retryAfterMs(err)!;
    await h.account.createChallenge({ identityKey });
  });

  it("API-03: missing, malformed, unknown and expired bearer tokens are unauthenticated", async () => {
    const a = await registerAccount(h);
    await expectRelayError(h.account.setDeliveryToken({ deliveryTokenHash: randomKey() }), Code.Unauthenticated, "MISSING_TOKEN");
    await expectRelayError(h.account.setDeliveryToken({ deliveryTokenHash: randomKey() }, { headers: { authorization: "Bearer nope" } }), Code.Unauthenticated, "BAD_TOKEN");
    await expectRelayError(h.account.setDeliveryToken({ deliveryTokenHash: randomKey() }, { headers: { authorization: bearerHeader(randomKey()) } }), Code.Unauthenticated, "BAD_TOKEN");
    await h.account.setDeliveryToken({ deliveryTokenHash: randomKey() }, { headers: a.headers });
    h.clock.now += DEFAULT_RELAY_LIMITS.tokenLifetimeMs;
    await expectRelayError(h.account.setDeliveryToken({ deliveryTokenHash: randomKey() }, { headers: a.headers }), Code.Unauthenticated, "BAD_TOKEN");
  });

  it("API-05: SetDeliveryToken needs a 32-byte hash", async () => {
    const a = await registerAccount(h);
    await expectRelayError(h.account.setDeliveryToken({ deliveryTokenHash: new Uint8Array(31) }, { headers: a.headers }), Code.InvalidArgument, "BAD_HASH");
  });

  it("API-04/SS-04: GetSenderCertificate issues a certificate that verifies under the relay's trust root", async () => {
    const a = await registerAccount(h);
    const info = await h.info.getRelayInfo({});
    const cert = await h.account.getSenderCertificate({}, { headers: a.headers });
    expect(Number(cert.expiresAtMs)).toBe(h.clock.now + DEFAULT_RELAY_LIMITS.senderCertificateLifetimeMs);
    const checked = await checkSenderCertificate(cert.senderCertificate, info.trustRootPublicKey, h.clock.now);
    expect(checked.senderAddress).toEqual(a.address);
    await expectRelayError(h.account.getSenderCertificate({}), Code.Unauthenticated, "MISSING_TOKEN");
    for (let i = 1; i < DEFAULT_RELAY_LIMITS.maxSenderCertificatesPerMinute; i++) await h.account.getSenderCertificate({}, { headers: a.headers });
    await expectRelayError(h.account.getSenderCertificate({}, { headers: a.headers }), Code.ResourceExhausted, "RATE_LIMITED");
  });

  it("API-22: GetRelayInfo returns the trust root, server certificate, limits and version; the trust root persists across restarts", async () => {
    const info = await h.info.getRelayInfo({});
    expect(info.trustRootPublicKey.length).toBe(33);
    expect(info.serverCertificate.length).toBeGreaterThan(33);
    expect(info.limits?.maxEnvelopeBytes).toBe(65536);
    expect(info.limits?.maxPrekeysPerUpload).toBe(100);
    expect(info.limits?.maxMailboxEnvelopes).toBe(10000);
    expect(info.limits?.maxRoomLogEnvelopes).toBe(100000);
    expect(info.limits?.mailboxRetentionSeconds).toBe(30 * 86400);
    expect(info.limits?.roomRetentionSeconds).toBe(7 * 86400);
    expect(info.limits?.tokenLifetimeSeconds).toBe(86400);
    expect(info.limits?.senderCertificateLifetimeSeconds).toBe(7 * 86400);
    expect(info.limits?.maxHistoryPage).toBe(500);
    expect(info.limits?.maxRoomsPerSubscription).toBe(256);
    expect(info.limits?.maxBundleFetchesPerMinute).toBe(30);
    expect(info.protocols).toEqual(["securecomm.relay.v1"]);
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    const { statSync } = await import("node:fs");
    expect(statSync(join(h.dataDir, "trust-root.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(h.dataDir, DATABASE_FILE)).mode & 0o777).toBe(0o600);
    const dir = h.dataDir;
    await h.relay.close();
    const reopened = await openHarness({ dataDir: dir });
    try {
      const again = await reopened.info.getRelayInfo({});
      expect(again.trustRootPublicKey).toEqual(info.trustRootPublicKey);
      expect(again.serverCertificate).toEqual(info.serverCertificate);
    } finally {
      await reopened.close();
    }
  });

  it("API-04: DeleteAccount removes everything the relay holds for the account, and nothing else", async () => {
    const a = await registerAccount(h);
    const b = await registerAccount(h);
    for (const acct of [a, b]) {
      await h.keys.uploadPreKeys(makePreKeys(acct.identity, { oneTime: 3, kyber: 2 }), { headers: acct.headers });
      await h.messages.sendSealed({ recipientAddress: acct.address, deliveryToken: acct.deliveryToken, envelope: new Uint8Array([0x11, 1, 2]) });
    }
    await h.rooms.createRoom({ roomId: randomId(), accessKeyHash: sha256(randomKey()) }, { headers: a.headers });
    await h.account.deleteAccount({}, { headers: a.headers });
    // Idempotent in effect: the token is gone, so a repeat is unauthenticated and changes nothing.
    await expectRelayError(h.account.deleteAccount({}, { headers: a.headers }), Code.Unauthenticated, "BAD_TOKEN");

    const db = new Database(join(h.dataDir, DATABASE_FILE), { readonly: true });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((t) => t.name);
    const aHex = Buffer.from(a.address).toString("hex");
    const aKey = Buffer.from(a.identityKey).toString("hex");
    for (const table of tables) {
      const rows = db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
      for (const row of rows) {
        for (const value of Object.values(row)) {
          if (value instanceof Uint8Array) {
            const hex = Buffer.from(value).toString("hex");
            expect(hex.includes(aHex), `${table} still holds the address`).toBe(false);
            expect(hex.includes(aKey), `${table} still holds the identity key`).toBe(false);
          }
        }
      }
    }
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    expect(count("SELECT count(*) AS n FROM accounts")).toBe(1);
    expect(count("SELECT count(*) AS n FROM mailbox")).toBe(1);
    expect(count("SELECT count(*) AS n FROM one_time_prekeys")).toBe(3);
    expect(count("SELECT count(*) AS n FROM kyber_prekeys")).toBe(2);
    expect(count("SELECT count(*) AS n FROM rooms")).toBe(1);
    db.close();
    // The address can be registered again.
    const again = await registerAccount(h, a.identity);
    expect(again.address).toEqual(a.address);
    const counts = await h.keys.getPreKeyCounts({}, { headers: again.headers });
    expect(counts.counts?.oneTimePreKeys).toBe(0);
  });
});

describe("ProveIdentity rate limit", () => {
  it("API-02: proofs are rate limited per identity key with RetryInfo", async () => {
    await h.close();
    h = await openHarness({ limits: { maxProofsPerMinute: 2 } });
    const identity = PrivateKey.generate();
    await h.account.proveIdentity({ ...(await challengeFor(identity)), registrationId: 1 });
    await h.account.proveIdentity({ ...(await challengeFor(identity)), registrationId: 1 });
    const c = await challengeFor(identity);
    const err = await expectRelayError(h.account.proveIdentity({ ...c, registrationId: 1 }), Code.ResourceExhausted, "RATE_LIMITED");
    expect(retryAfterMs(err)).toBeGreaterThan(0);
    // The rate-limited attempt did not use the challenge up.
    h.clock.now += retryAfterMs(err)!;
    await h.account.proveIdentity({ ...c, registrationId: 1 });
  });
});
