/**
 * Faults of a multi-process deployment: real relay processes (`node --import tsx relay/main.ts
 * --database URL`) on one PostgreSQL database, real clients over HTTP.
 * - three processes, room members on different ones; one is SIGKILLed mid-traffic, its members
 *   reconnect to another and resume by cursor: nothing acknowledged lost, no seq reused or
 *   skipped, no seq delivered twice;
 * - 100 parallel bundle fetches over the processes for 10 one-time prekeys: each handed out once;
 * - the database restarts under load: calls fail `unavailable` (never `internal`) meanwhile,
 *   the relays recover by themselves and nothing acknowledged is lost.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { sha256 } from "../auth.js";
import { errorReason } from "../errors.js";
import { startPostgresCluster, type PostgresCluster } from "../testing/postgres-cluster.js";
import { createTestDatabase } from "../testing/postgres-database.js";
import { freePort } from "../../client/e2e/spawned-relay.test-support.js";
import { spawnRelay, type SpawnedRelay } from "../testing/spawned-relays.js";
import { clientsFor, makePreKeys, randomId, randomKey, registerAccount, type Clients, type TestAccount } from "./harness.test-support.js";

const relays: SpawnedRelay[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop("SIGKILL")));
  for (const c of cleanups.splice(0).reverse()) await c();
});
let cluster: PostgresCluster | undefined;
afterAll(async () => {
  await cluster?.destroy();
});

const clientOf = (r: SpawnedRelay): Clients => clientsFor(createConnectTransport({ baseUrl: r.url, httpVersion: "1.1" }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tagOf = (envelope: Uint8Array): number => Buffer.from(envelope).readUInt32BE(1);
const envelopeFor = (tag: number): Uint8Array => {
  const e = new Uint8Array(48).fill(tag & 0xff);
  e[0] = 0x11;
  new DataView(e.buffer).setUint32(1, tag);
  return e;
};

async function startRelays(url: string, n: number, env: Record<string, string> = {}): Promise<SpawnedRelay[]> {
  const started = await Promise.all(Array.from({ length: n }, () => spawnRelay(url, env)));
  relays.push(...started);
  return started;
}

/** A room member: follows the room on one relay, and on another when its relay fails. */
function member(who: TestAccount, roomId: Uint8Array, accessKey: Uint8Array, pick: (attempt: number) => Clients) {
  const seqs: number[] = [];
  const tags = new Map<number, number>();
  /** Mailbox envelopes: id -> tag, as the application keeps them (de-duplicated by id). */
  const mail = new Map<number, number>();
  /** Ids one connection delivered twice (the stream's cursor must prevent it); negated: an id seen with two envelopes. */
  const repeatedOnOneStream: number[] = [];
  const abort = new AbortController();
  let reconnects = 0;
  let caughtUp!: () => void;
  const ready = new Promise<void>((r) => (caughtUp = r));
  const done = (async () => {
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      const afterSeq = BigInt(seqs[seqs.length - 1] ?? 0);
      try {
        const client = pick(attempt);
        const stream = client.messages.subscribe({ rooms: [{ roomId, accessKey, afterSeq }] }, { headers: who.headers, signal: abort.signal });
        const seenHere = new Set<number>();
        for await (const m of stream) {
          if (m.event.case === "mailbox") {
            const ids: bigint[] = [];
            for (const e of m.event.value.envelopes) {
              const id = Number(e.id);
              if (seenHere.has(id)) repeatedOnOneStream.push(id);
              seenHere.add(id);
              if ((mail.get(id) ?? tagOf(e.envelope)) !== tagOf(e.envelope)) repeatedOnOneStream.push(-id); // one id, two envelopes
              mail.set(id, tagOf(e.envelope));
              ids.push(e.id);
            }
            // Acknowledged as a client does; a lost ack only means a repeat the app drops by id.
            void client.messages.ackMessages({ ids }, { headers: who.headers }).catch(() => undefined);
          }
          if (m.event.case === "caughtUp") caughtUp();
          if (m.event.case !== "room") continue;
          for (const e of m.event.value.events) {
            if (e.ephemeral) continue;
            // Recorded as the application would receive it: no de-duplication here.
            seqs.push(Number(e.seq));
            tags.set(Number(e.seq), tagOf(e.envelope));
          }
        }
      } catch {
        if (abort.signal.aborted) return;
        reconnects++;
        await sleep(50);
      }
    }
  })();
  return { seqs, tags, mail, repeatedOnOneStream, ready, get reconnects() { return reconnects; }, stop: async () => { abort.abort(); await done; } };
}

describe("three relay processes on one PostgreSQL database", () => {
  it("a SIGKILLed process's members resume on another: nothing acknowledged lost, no seq reused, skipped or delivered twice", async () => {
    const db = await createTestDatabase();
    cleanups.push(db.drop);
    const procs = await startRelays(db.url, 3);
    const clients = procs.map(clientOf);
    const alive = [true, true, true];
    const nextAlive = (from: number): Clients => {
      for (let i = 0; i < 3; i++) if (alive[(from + i) % 3]) return clients[(from + i) % 3]!;
      throw new Error("no relay alive");
    };

    const owner = await registerAccount(clients[0]!);
    const roomId = randomId();
    const accessKey = randomKey();
    await clients[1]!.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: owner.headers });
    const accounts = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => registerAccount(clients[i % 3]!)));
    const members = accounts.map((acc, i) => member(acc, roomId, accessKey, (attempt) => (attempt === 0 ? clients[i % 3]! : nextAlive(i + attempt))));
    await Promise.all(members.map((m) => m.ready));

    const acked = new Map<number, number>(); // seq -> tag
    const sent = accounts.map(() => new Set<number>()); // per member: acknowledged send tags
    let nextTag = 1;
    let stop = false;
    const poster = async (w: number): Promise<void> => {
      while (!stop) {
        const tag = nextTag++;
        try {
          if (tag % 3 === 0) {
            const to = accounts[tag % accounts.length]!;
            await nextAlive(w).messages.sendSealed({ recipientAddress: to.address, deliveryToken: to.deliveryToken, envelope: envelopeFor(tag) });
            sent[tag % accounts.length]!.add(tag);
            continue;
          }
          const r = await nextAlive(w).rooms.postToRoom({ roomId, accessKey, envelope: envelopeFor(tag) });
          const seq = Number(r.seq);
          expect(acked.has(seq), `seq ${seq} acknowledged twice`).toBe(false);
          acked.set(seq, tag);
        } catch (err) {
          // The process died under this call: never acknowledged; carry on elsewhere.
          if (!(err instanceof ConnectError)) throw err;
          await sleep(20);
        }
      }
    };
    const posters = Array.from({ length: 6 }, (_, w) => poster(w));
    while (acked.size < 120) await sleep(10);
    alive[0] = false;
    await procs[0]!.stop("SIGKILL");
    const before = acked.size;
    while (acked.size < before + 120) await sleep(10);
    stop = true;
    await Promise.all(posters);

    const history = await clients[2]!.rooms.getRoomHistory({ roomId, accessKey, afterSeq: 0n, limit: 0 });
    const latest = Number(history.latestSeq);
    const deadline = Date.now() + 30_000;
    const allMail = (i: number) => [...sent[i]!].every((tag) => [...members[i]!.mail.values()].includes(tag));
    while ((members.some((m) => (m.seqs[m.seqs.length - 1] ?? 0) < latest) || !members.every((_, i) => allMail(i))) && Date.now() < deadline) await sleep(50);
    await Promise.all(members.map((m) => m.stop()));

    const expected = Array.from({ length: latest }, (_, i) => i + 1);
    for (const [i, m] of members.entries()) {
      // Every seq 1..latest exactly once and in order: none skipped, none delivered twice.
      expect(m.seqs, `member ${i}`).toEqual(expected);
      // Every acknowledged post arrived with its own envelope: no seq reused.
      for (const [seq, tag] of acked) expect(m.tags.get(seq), `member ${i} seq ${seq}`).toBe(tag);
      // Every acknowledged sealed send reached its recipient; no stream repeated an id.
      const received = new Set(m.mail.values());
      for (const tag of sent[i]!) expect(received.has(tag), `member ${i} send ${tag}`).toBe(true);
      expect(m.repeatedOnOneStream, `member ${i}`).toEqual([]);
    }
    expect(sent.reduce((n, s) => n + s.size, 0)).toBeGreaterThan(50);
    // The killed process's members did move.
    expect(members[0]!.reconnects + members[3]!.reconnects).toBeGreaterThan(0);
  });

  it("100 parallel bundle fetches spread over the processes hand out each of 10 one-time prekeys once", async () => {
    const db = await createTestDatabase();
    cleanups.push(db.drop);
    const procs = await startRelays(db.url, 3);
    const clients = procs.map(clientOf);
    const target = await registerAccount(clients[0]!);
    await clients[0]!.keys.uploadPreKeys(makePreKeys(target.identity, { oneTime: 10, kyber: 0 }), { headers: target.headers });
    const requesters = await Promise.all(Array.from({ length: 10 }, (_, i) => registerAccount(clients[i % 3]!, undefined, false)));
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => clients[i % 3]!.keys.fetchPreKeyBundle({ address: target.address }, { headers: requesters[i % 10]!.headers })),
    );
    const ids = results.flatMap((r) => (r.result.case === "bundle" && r.result.value.oneTimePreKey ? [r.result.value.oneTimePreKey.id] : []));
    expect(ids.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(results.every((r) => r.result.case === "bundle")).toBe(true);
  });

  it("API-29: an owner following its mailbox on one process hears PreKeysLow when another process hands out its prekeys", async () => {
    const db = await createTestDatabase();
    cleanups.push(db.drop);
    const [home, other] = (await startRelays(db.url, 2)).map(clientOf) as [Clients, Clients];
    const owner = await registerAccount(home);
    await home.keys.uploadPreKeys(makePreKeys(owner.identity, { oneTime: 21, kyber: 21 }), { headers: owner.headers });
    const abort = new AbortController();
    const stream = home.messages.subscribe({ rooms: [] }, { headers: owner.headers, signal: abort.signal })[Symbol.asyncIterator]();
    try {
      expect((await stream.next()).value?.event.case).toBe("caughtUp");
      const friend = await registerAccount(other);
      await other.keys.fetchPreKeyBundle({ address: owner.address }, { headers: friend.headers }); // 20 left: not below
      await other.keys.fetchPreKeyBundle({ address: owner.address }, { headers: friend.headers }); // 19 left
      for (;;) {
        const next = await Promise.race([stream.next(), sleep(10_000).then(() => "stalled" as const)]);
        if (next === "stalled") throw new Error("no PreKeysLow on the owner's stream within 10 s");
        if (next.done) throw new Error("stream ended");
        if (next.value.event.case !== "preKeysLow") continue;
        expect(next.value.event.value.handoutLimited).toBe(false);
        break;
      }
    } finally {
      abort.abort();
    }
  });
});

describe("a relay started while its database is unreachable", () => {
  it("stops at startup with a one-line reason and no stack trace", async () => {
    const port = await freePort();
    const err = await spawnRelay(`postgres://postgres@127.0.0.1:${port}/none`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(err)).toContain("securecomm relay: failed to start: relay database unavailable");
    expect(String(err)).not.toMatch(/\n\s+at /);
  });
});

describe("the database restarts under load", () => {
  it("relays answer unavailable meanwhile, recover by themselves and lose nothing acknowledged", async () => {
    cluster = await startPostgresCluster();
    const url = await cluster.createDatabase();
    const procs = await startRelays(url, 2);
    const clients = procs.map(clientOf);
    const owner = await registerAccount(clients[0]!);
    const roomId = randomId();
    const accessKey = randomKey();
    await clients[0]!.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: owner.headers });
    const reader = await registerAccount(clients[1]!);
    const m = member(reader, roomId, accessKey, (attempt) => clients[(1 + attempt) % 2]!);
    await m.ready;

    const acked = new Map<number, number>();
    const failures = new Map<string, number>();
    let okAfterRestart = 0;
    let restarted = false;
    let nextTag = 1;
    let stop = false;
    const poster = async (w: number): Promise<void> => {
      while (!stop) {
        const tag = nextTag++;
        try {
          const r = await clients[w % 2]!.rooms.postToRoom({ roomId, accessKey, envelope: envelopeFor(tag) });
          acked.set(Number(r.seq), tag);
          if (restarted) okAfterRestart++;
        } catch (err) {
          const key = err instanceof ConnectError ? `${Code[err.code]}/${errorReason(err) ?? "-"}` : String(err);
          failures.set(key, (failures.get(key) ?? 0) + 1);
          await sleep(20);
        }
      }
    };
    const posters = Array.from({ length: 4 }, (_, w) => poster(w));
    while (acked.size < 50) await sleep(10);
    await cluster.stopServer();
    await sleep(1500);
    await cluster.startServer();
    restarted = true;
    const deadline = Date.now() + 30_000;
    while (okAfterRestart < 50 && Date.now() < deadline) await sleep(20);
    stop = true;
    await Promise.all(posters);

    // Meanwhile: only `unavailable` (DATABASE_UNAVAILABLE), never `internal`.
    expect([...failures.keys()]).toEqual(["Unavailable/DATABASE_UNAVAILABLE"]);
    // Recovered by themselves, both of them.
    expect(okAfterRestart).toBeGreaterThanOrEqual(50);
    for (const c of clients) await c.rooms.postToRoom({ roomId, accessKey, envelope: envelopeFor(0) });

    const latest = Number((await clients[0]!.rooms.getRoomHistory({ roomId, accessKey, afterSeq: 0n, limit: 1 })).latestSeq);
    const until = Date.now() + 30_000;
    while ((m.seqs[m.seqs.length - 1] ?? 0) < latest && Date.now() < until) await sleep(50);
    await m.stop();
    expect(m.seqs).toEqual(Array.from({ length: latest }, (_, i) => i + 1));
    for (const [seq, tag] of acked) expect(m.tags.get(seq)).toBe(tag);
  });
});
