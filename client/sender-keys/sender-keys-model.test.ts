import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { bytesToHex, utf8 } from "../crypto/bytes.js";
import {
  createDistributionId,
  createSenderKeyDistributionMessage,
  groupDecrypt,
  groupEncrypt,
  processSenderKeyDistributionMessage,
} from "./group-cipher.js";
import { InMemorySenderKeyStore } from "./sender-key-store.js";

/**
 * Model-based test (STYLE.md): one sender, two receivers; commands Send, Deliver (any pending
 * message, any order), Duplicate (re-deliver), Tamper (bit flip), Snapshot and Restore (a
 * receiver's store rolled back, as after a crash). Invariant: with no restore in between, every
 * message is decrypted to its plaintext exactly once, and failures never change a store.
 */
const SENDER = "sender";
const RECEIVERS = 2;

interface Model {
  sent: number;
  /** Per receiver: message indices decrypted since the last restore point. */
  delivered: Set<number>[];
  snapshots: ({ delivered: Set<number> } | undefined)[];
}

interface Real {
  senderStore: InMemorySenderKeyStore;
  receivers: InMemorySenderKeyStore[];
  distributionId: Uint8Array;
  messages: Uint8Array[];
  snapshots: (Uint8Array | undefined)[];
}

async function recordOf(r: Real, who: number): Promise<string> {
  const rec = await (r.receivers[who] as InMemorySenderKeyStore).loadSenderKey(SENDER, r.distributionId);
  return rec === null ? "none" : bytesToHex(rec);
}

class Send implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    r.messages.push(await groupEncrypt(r.senderStore, SENDER, r.distributionId, utf8(`message ${m.sent}`)));
    m.sent++;
  }
  toString = () => "Send";
}

class Deliver implements fc.AsyncCommand<Model, Real> {
  constructor(readonly who: number, readonly pick: number) {}
  check = (m: Model) => m.sent > (m.delivered[this.who] as Set<number>).size;
  async run(m: Model, r: Real) {
    const delivered = m.delivered[this.who] as Set<number>;
    const pending = [...Array(m.sent).keys()].filter((i) => !delivered.has(i));
    const index = pending[this.pick % pending.length] as number;
    const pt = await groupDecrypt(r.receivers[this.who] as InMemorySenderKeyStore, SENDER, r.messages[index] as Uint8Array);
    expect(new TextDecoder().decode(pt)).toBe(`message ${index}`);
    delivered.add(index);
  }
  toString = () => `Deliver(${this.who}, ${this.pick})`;
}

class Duplicate implements fc.AsyncCommand<Model, Real> {
  constructor(readonly who: number, readonly pick: number) {}
  check = (m: Model) => (m.delivered[this.who] as Set<number>).size > 0;
  async run(m: Model, r: Real) {
    const done = [...(m.delivered[this.who] as Set<number>)];
    const index = done[this.pick % done.length] as number;
    const before = await recordOf(r, this.who);
    let err: unknown;
    try {
      await groupDecrypt(r.receivers[this.who] as InMemorySenderKeyStore, SENDER, r.messages[index] as Uint8Array);
    } catch (e) {
      err = e;
    }
    expect(isProtocolError(err, "duplicate_message")).toBe(true);
    expect(await recordOf(r, this.who)).toBe(before);
  }
  toString = () => `Duplicate(${this.who}, ${this.pick})`;
}

class Tamper implements fc.AsyncCommand<Model, Real> {
  constructor(readonly who: number, readonly pick: number, readonly bit: number) {}
  check = (m: Model) => m.sent > 0;
  async run(m: Model, r: Real) {
    const message = Uint8Array.from(r.messages[this.pick % m.sent] as Uint8Array);
    const bit = this.bit % (message.length * 8);
    message[bit >> 3] = (message[bit >> 3] as number) ^ (1 << (bit & 7));
    const before = await recordOf(r, this.who);
    let err: unknown;
    try {
      await groupDecrypt(r.receivers[this.who] as InMemorySenderKeyStore, SENDER, message);
    } catch (e) {
      err = e;
    }
    expect(isProtocolError(err)).toBe(true);
    expect(await recordOf(r, this.who)).toBe(before);
  }
  toString = () => `Tamper(${this.who}, ${this.pick}, ${this.bit})`;
}

class Snapshot implements fc.AsyncCommand<Model, Real> {
  constructor(readonly who: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    m.snapshots[this.who] = { delivered: new Set(m.delivered[this.who]) };
    r.snapshots[this.who] = (await (r.receivers[this.who] as InMemorySenderKeyStore).loadSenderKey(SENDER, r.distributionId)) ?? undefined;
  }
  toString = () => `Snapshot(${this.who})`;
}

class Restore implements fc.AsyncCommand<Model, Real> {
  constructor(readonly who: number) {}
  check = (m: Model) => m.snapshots[this.who] !== undefined;
  async run(m: Model, r: Real) {
    const snap = m.snapshots[this.who] as { delivered: Set<number> };
    m.delivered[this.who] = new Set(snap.delivered);
    await (r.receivers[this.who] as InMemorySenderKeyStore).storeSenderKey(SENDER, r.distributionId, r.snapshots[this.who] as Uint8Array);
  }
  toString = () => `Restore(${this.who})`;
}

describe("sender keys, model-based (SK-07, SK-12)", () => {
  it("SK-07: every delivered message yields its plaintext exactly once; failures change nothing", async () => {
    const who = fc.integer({ min: 0, max: RECEIVERS - 1 });
    const commands = fc.commands(
      [
        fc.constant(new Send()),
        fc.tuple(who, fc.nat()).map(([w, p]) => new Deliver(w, p)),
        fc.tuple(who, fc.nat()).map(([w, p]) => new Duplicate(w, p)),
        fc.tuple(who, fc.nat(), fc.nat()).map(([w, p, b]) => new Tamper(w, p, b)),
        who.map((w) => new Snapshot(w)),
        who.map((w) => new Restore(w)),
      ],
      { maxCommands: 40 },
    );
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const senderStore = new InMemorySenderKeyStore();
        const distributionId = createDistributionId();
        const skdm = await createSenderKeyDistributionMessage(senderStore, SENDER, distributionId);
        const receivers = [...Array(RECEIVERS)].map(() => new InMemorySenderKeyStore());
        for (const store of receivers) await processSenderKeyDistributionMessage(store, SENDER, skdm);
        const snapshots: (Uint8Array | undefined)[] = [];
        for (let i = 0; i < RECEIVERS; i++) {
          snapshots.push((await (receivers[i] as InMemorySenderKeyStore).loadSenderKey(SENDER, distributionId)) ?? undefined);
        }
        const model: Model = { sent: 0, delivered: receivers.map(() => new Set<number>()), snapshots: receivers.map(() => ({ delivered: new Set<number>() })) };
        await fc.asyncModelRun(() => ({ model, real: { senderStore, receivers, distributionId, messages: [], snapshots } }), cmds);
      }),
      { numRuns: 30 },
    );
  });
});
