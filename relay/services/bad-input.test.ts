/**
 * Bad input for every RPC: fast-check generated and mutated requests (wrong lengths, wrong
 * type bytes, random ids and keys, with and without a valid token). Each failure is a
 * ConnectError with one of the documented codes and an ErrorInfo reason, changes no stored
 * state, and the relay keeps serving.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../auth.js";
import { errorReason } from "../errors.js";
import { DATABASE_FILE } from "../store/sqlite-store.js";
import { makePreKeys, openHarness, randomId, randomKey, registerAccount, type Harness, type TestAccount } from "./harness.test-support.js";

const DOCUMENTED = new Set([Code.InvalidArgument, Code.Unauthenticated, Code.PermissionDenied, Code.NotFound, Code.ResourceExhausted, Code.AlreadyExists]);

let h: Harness;
let a: TestAccount;
let room: { roomId: Uint8Array; accessKey: Uint8Array };
let snapshotDb: Database.Database;

beforeAll(async () => {
  h = await openHarness({ limits: { maxBundleFetchesPerMinute: 100_000, maxChallengesPerMinute: 100_000, maxRoomsCreatedPerMinute: 100_000 } });
  a = await registerAccount(h);
  await h.keys.uploadPreKeys(makePreKeys(a.identity, { oneTime: 1, kyber: 1 }), { headers: a.headers });
  room = { roomId: randomId(), accessKey: randomKey() };
  await h.rooms.createRoom({ roomId: room.roomId, accessKeyHash: sha256(room.accessKey) }, { headers: a.headers });
  snapshotDb = new Database(join(h.dataDir, DATABASE_FILE), { readonly: true });
});
afterAll(async () => {
  snapshotDb.close();
  await h.close();
});

/** A digest of every row of every table. */
function snapshot(): string {
  const hash = createHash("sha256");
  const tables = snapshotDb.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
  for (const { name } of tables) {
    for (const row of snapshotDb.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
      hash.update(name);
      for (const v of Object.values(row)) hash.update(v instanceof Uint8Array ? Buffer.from(v).toString("hex") : String(v));
    }
  }
  return hash.digest("hex");
}

/** Bytes that are usually the wrong length, sometimes the right one, sometimes a real value. */
const bytesAround = (len: number, real?: () => Uint8Array) =>
  fc.oneof(
    fc.uint8Array({ maxLength: len + 3 }),
    fc.uint8Array({ minLength: len, maxLength: len }),
    ...(real ? [fc.constant(null).map(() => real())] : []),
  );
const auth = fc.oneof(
  fc.constant(undefined),
  fc.constant("valid"),
  fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `Bearer ${Buffer.from(b).toString("base64url")}`),
);
const headers = (x: string | undefined) => (x === undefined ? {} : { headers: { authorization: x === "valid" ? a.headers.authorization : x } });
const ecKey = () => {
  const k = crypto.getRandomValues(new Uint8Array(33));
  k[0] = 5;
  return k;
};

async function check(call: () => Promise<unknown>): Promise<void> {
  const before = snapshot();
  try {
    await call();
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    const e = err as ConnectError;
    expect(DOCUMENTED.has(e.code), `undocumented code ${Code[e.code]}: ${e.rawMessage}`).toBe(true);
    expect(errorReason(e)).toBeTypeOf("string");
    expect(snapshot()).toBe(before);
  }
}

const RUNS = { numRuns: 40 };

describe("bad input for every RPC", () => {
  it("AccountService", async () => {
    await fc.assert(fc.asyncProperty(bytesAround(33, ecKey), (identityKey) => check(() => h.account.createChallenge({ identityKey }))), RUNS);
    await fc.assert(
      fc.asyncProperty(bytesAround(33, () => a.identityKey), bytesAround(32), bytesAround(64), fc.nat(), (identityKey, challenge, signature, registrationId) =>
        check(() => h.account.proveIdentity({ identityKey, challenge, signature, registrationId })),
      ),
      RUNS,
    );
    await fc.assert(fc.asyncProperty(bytesAround(32), fc.oneof(auth.filter((x) => x !== "valid")), (hash, x) => check(() => h.account.setDeliveryToken({ deliveryTokenHash: hash }, headers(x)))), RUNS);
    await fc.assert(fc.asyncProperty(auth.filter((x) => x !== "valid"), (x) => check(() => h.account.deleteAccount({}, headers(x)))), RUNS);
  });

  it("KeyService", async () => {
    const keyish = fc.record({ id: fc.nat(), publicKey: fc.oneof(bytesAround(33), bytesAround(1569)), signature: bytesAround(64) });
    await fc.assert(
      fc.asyncProperty(fc.option(keyish, { nil: undefined }), fc.array(fc.record({ id: fc.nat(), publicKey: bytesAround(33) }), { maxLength: 4 }), fc.array(keyish, { maxLength: 3 }), fc.option(keyish, { nil: undefined }), auth, (signedPreKey, oneTimePreKeys, kyberPreKeys, lastResortKyberPreKey, x) =>
        check(() => h.keys.uploadPreKeys({ signedPreKey, oneTimePreKeys, kyberPreKeys, lastResortKyberPreKey }, headers(x))),
      ),
      RUNS,
    );
    await fc.assert(fc.asyncProperty(bytesAround(16), auth.filter((x) => x !== "valid"), (address, x) => check(() => h.keys.fetchPreKeyBundle({ address }, headers(x)))), RUNS);
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 15 }), (address) => check(() => h.keys.fetchPreKeyBundle({ address }, headers("valid")))), RUNS);
  });

  it("MessageService", async () => {
    await fc.assert(
      fc.asyncProperty(bytesAround(16, () => a.address), bytesAround(32), fc.uint8Array({ maxLength: 64 }), (recipientAddress, deliveryToken, envelope) =>
        check(() => h.messages.sendSealed({ recipientAddress, deliveryToken, envelope })),
      ),
      RUNS,
    );
    await fc.assert(fc.asyncProperty(fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 5 }), auth.filter((x) => x !== "valid"), (ids, x) => check(() => h.messages.ackMessages({ ids }, headers(x)))), RUNS);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ roomId: bytesAround(16), accessKey: bytesAround(32), afterSeq: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }), { maxLength: 3 }), auth, (rooms, x) =>
        check(async () => {
          const abort = new AbortController();
          const it = h.messages.subscribe({ rooms }, { ...headers(x), signal: abort.signal })[Symbol.asyncIterator]();
          try {
            for (;;) {
              const m = await it.next();
              if (m.done || m.value.event.case === "caughtUp") break;
            }
          } finally {
            abort.abort();
          }
        }),
      ),
      RUNS,
    );
  });

  it("RoomService", async () => {
    const roomId = bytesAround(16, () => room.roomId);
    const accessKey = bytesAround(32, () => randomKey());
    await fc.assert(fc.asyncProperty(roomId, bytesAround(32), auth.filter((x) => x !== "valid"), (id, hash, x) => check(() => h.rooms.createRoom({ roomId: id, accessKeyHash: hash }, headers(x)))), RUNS);
    await fc.assert(fc.asyncProperty(fc.constant(room.roomId), bytesAround(32), (id, hash) => check(() => h.rooms.createRoom({ roomId: id, accessKeyHash: hash }, headers("valid")))), RUNS);
    await fc.assert(fc.asyncProperty(roomId, accessKey, fc.uint8Array({ maxLength: 32 }), (id, key, envelope) => check(() => h.rooms.postToRoom({ roomId: id, accessKey: key, envelope }))), RUNS);
    await fc.assert(fc.asyncProperty(roomId, accessKey, fc.uint8Array({ maxLength: 32 }), (id, key, envelope) => check(() => h.rooms.postEphemeral({ roomId: id, accessKey: key, envelope }))), RUNS);
    await fc.assert(fc.asyncProperty(roomId, accessKey, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(), (id, key, afterSeq, limit) => check(() => h.rooms.getRoomHistory({ roomId: id, accessKey: key, afterSeq, limit }))), RUNS);
    await fc.assert(fc.asyncProperty(roomId, accessKey, bytesAround(32), (id, key, hash) => check(() => h.rooms.rotateRoomAccessKey({ roomId: id, accessKey: key, newAccessKeyHash: hash }))), RUNS);
    await fc.assert(fc.asyncProperty(roomId, accessKey, bytesAround(32), fc.uint8Array({ maxLength: 300 }), (id, key, hash, box) => check(() => h.rooms.putInviteBox({ roomId: id, accessKey: key, boxAddressHash: hash, box }))), RUNS);
    await fc.assert(fc.asyncProperty(roomId, bytesAround(32), (id, boxKey) => check(() => h.rooms.getInviteBox({ roomId: id, boxKey }))), RUNS);
  });

  it("the relay still serves correct requests afterwards", async () => {
    const info = await h.info.getRelayInfo({});
    expect(info.trustRootPublicKey.length).toBe(33);
    const posted = await h.rooms.postToRoom({ ...room, envelope: new Uint8Array([1]) });
    expect(posted.seq).toBeGreaterThan(0n);
    await registerAccount(h);
  });
});
