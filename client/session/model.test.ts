/**
 * Model-based test (fast-check `commands`): three parties (two of ours, one libsignal) with
 * sessions between every pair, driven by Send, Deliver (any in-flight message: reordering),
 * Drop, Reorder, Duplicate (redeliver an already delivered message), SnapshotRestore
 * (persist one of our stores and reload it into a new store object) and Reinitiate (a new
 * PQXDH session between our two parties while the old one is still in use). Every delivered message
 * yields its plaintext exactly once; a duplicate is a ProtocolError that changes no store; no
 * other exception is ever thrown (spec DR-07..DR-17).
 *
 * Within limits: a message is delivered only while its sender has received fewer than 4
 * messages from the receiver since sending it, so its receiving chain is still among the 5
 * kept (MAX_RECEIVER_CHAINS); messages older than that are dropped instead, as a real peer
 * would lose them.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8 } from "../crypto/bytes.js";
import { isProtocolError } from "../errors.js";
import { TestProtocolStore } from "../store/protocol-store.test-support.js";
import { LibsignalParty, OurParty, type Party, TEST_NOW_MS } from "./parties.test-support.js";
import { SessionBuilder } from "./session-builder.js";
import { type CiphertextMessage, SessionCipher } from "./session-cipher.js";

interface InFlight {
  readonly id: number;
  readonly from: number;
  readonly to: number;
  readonly message: CiphertextMessage;
  /** Messages `from` had received from `to` when this was sent. */
  readonly senderReceivedAtSend: number;
}

interface Model {
  nextId: number;
  inFlight: InFlight[];
  delivered: InFlight[];
  /** received[to][from]: messages delivered to `to` from `from`. */
  received: number[][];
  /** canSend[from][to]: `from` has a session it may send on (initiator, or heard from `to`). */
  canSend: boolean[][];
}

interface World {
  parties: Party[];
}

const PARTIES = 3;

/** Totals over all runs, so the test fails if the schedule stopped exercising anything. */
const totals = { delivered: 0, duplicates: 0, restores: 0, reinitiations: 0 };

function stillDeliverable(model: Model, m: InFlight): boolean {
  return (model.received[m.from]?.[m.to] ?? 0) - m.senderReceivedAtSend < 4;
}

class SendCommand implements fc.AsyncCommand<Model, World> {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly count: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    return this.from !== this.to && (model.canSend[this.from]?.[this.to] ?? false);
  }
  async run(model: Model, world: World): Promise<void> {
    const sender = world.parties[this.from] as Party;
    const receiver = world.parties[this.to] as Party;
    for (let i = 0; i < this.count; i++) {
      const id = model.nextId++;
      const message = await sender.encrypt(receiver.address, utf8(`message ${id}`));
      model.inFlight.push({
        id,
        from: this.from,
        to: this.to,
        message,
        senderReceivedAtSend: model.received[this.from]?.[this.to] ?? 0,
      });
    }
  }
  toString(): string {
    return `Send(${this.from}→${this.to}, ${this.count})`;
  }
}

class DeliverCommand implements fc.AsyncCommand<Model, World> {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.inFlight.length > 0;
  }
  async run(model: Model, world: World): Promise<void> {
    const index = this.pick % model.inFlight.length;
    const [m] = model.inFlight.splice(index, 1);
    if (m === undefined) return;
    if (!stillDeliverable(model, m)) return; // beyond the receiving-chain window: lost
    const receiver = world.parties[m.to] as Party;
    const sender = world.parties[m.from] as Party;
    const plaintext = await receiver.decrypt(sender.address, m.message);
    expect(new TextDecoder().decode(plaintext)).toBe(`message ${m.id}`);
    expect(model.delivered.some((d) => d.id === m.id)).toBe(false);
    model.delivered.push(m);
    totals.delivered++;
    (model.received[m.to] as number[])[m.from] = (model.received[m.to]?.[m.from] ?? 0) + 1;
    (model.canSend[m.to] as boolean[])[m.from] = true;
  }
  toString(): string {
    return `Deliver(${this.pick})`;
  }
}

class DropCommand implements fc.AsyncCommand<Model, World> {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.inFlight.length > 0;
  }
  async run(model: Model): Promise<void> {
    model.inFlight.splice(this.pick % model.inFlight.length, 1);
  }
  toString(): string {
    return `Drop(${this.pick})`;
  }
}

class ReorderCommand implements fc.AsyncCommand<Model, World> {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.inFlight.length > 1;
  }
  async run(model: Model): Promise<void> {
    const [m] = model.inFlight.splice(this.pick % model.inFlight.length, 1);
    if (m !== undefined) model.inFlight.push(m);
  }
  toString(): string {
    return `Reorder(${this.pick})`;
  }
}

class DuplicateCommand implements fc.AsyncCommand<Model, World> {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.delivered.length > 0;
  }
  async run(model: Model, world: World): Promise<void> {
    const m = model.delivered[this.pick % model.delivered.length] as InFlight;
    const receiver = world.parties[m.to] as Party;
    const sender = world.parties[m.from] as Party;
    const before = receiver instanceof OurParty ? receiver.store.snapshot() : undefined;
    let caught: unknown;
    try {
      await receiver.decrypt(sender.address, m.message);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeDefined();
    totals.duplicates++;
    if (receiver instanceof OurParty) {
      expect(isProtocolError(caught), `expected a ProtocolError, got ${String(caught)}`).toBe(true);
      expect(receiver.store.snapshot()).toEqual(before);
    }
  }
  toString(): string {
    return `Duplicate(${this.pick})`;
  }
}

class SnapshotRestoreCommand implements fc.AsyncCommand<Model, World> {
  constructor(readonly party: number) {}
  check(): boolean {
    return true;
  }
  async run(_model: Model, world: World): Promise<void> {
    const party = world.parties[this.party];
    if (!(party instanceof OurParty)) return;
    const reloaded = await TestProtocolStore.open(party.identity, party.registrationId, () => TEST_NOW_MS, party.store.snapshot());
    expect(reloaded.snapshot()).toEqual(party.store.snapshot());
    // Swap in the reloaded store: from now on the party runs on the persisted bytes only.
    const mutable = party as unknown as { store: TestProtocolStore; cipher: SessionCipher; builder: SessionBuilder };
    mutable.store = reloaded;
    mutable.cipher = new SessionCipher(reloaded, { now: () => TEST_NOW_MS });
    mutable.builder = new SessionBuilder(reloaded, { now: () => TEST_NOW_MS });
    totals.restores++;
  }
  toString(): string {
    return `SnapshotRestore(${this.party})`;
  }
}

/**
 * One of our parties starts a fresh session with the other (a new PQXDH while the old session
 * lives on as an archived state, DR-19): messages in flight on the old session must still
 * decrypt (DR-17), and both sides must converge on a working session.
 */
class ReinitiateCommand implements fc.AsyncCommand<Model, World> {
  constructor(
    readonly from: number,
    readonly to: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, world: World): Promise<void> {
    const from = world.parties[this.from];
    const to = world.parties[this.to];
    if (!(from instanceof OurParty) || !(to instanceof OurParty)) return;
    await from.builder.processPreKeyBundle(to.address, await to.bundle(await to.addOneTimePreKey()));
    (model.canSend[this.from] as boolean[])[this.to] = true;
    totals.reinitiations++;
  }
  toString(): string {
    return `Reinitiate(${this.from}→${this.to})`;
  }
}

const partyIndex = fc.nat(PARTIES - 1);
const directedPair = fc.constantFrom<[number, number]>([0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]);
const send = fc.tuple(directedPair, fc.integer({ min: 1, max: 4 })).map(([[f, t], n]) => new SendCommand(f, t, n));
const commands = [
  send,
  send,
  fc.nat(50).map((p) => new DeliverCommand(p)),
  fc.nat(50).map((p) => new DeliverCommand(p)),
  fc.nat(50).map((p) => new DropCommand(p)),
  fc.nat(50).map((p) => new ReorderCommand(p)),
  fc.nat(50).map((p) => new DuplicateCommand(p)),
  partyIndex.map((p) => new SnapshotRestoreCommand(p)),
  fc.constantFrom(new ReinitiateCommand(0, 1), new ReinitiateCommand(1, 0)),
];

describe("model-based: three parties, Send/Deliver/Drop/Reorder/Duplicate/SnapshotRestore/Reinitiate", () => {
  it("regression (fast-check): SnapshotRestore, Reinitiate, Send — the reloaded party builds on its reloaded store", async () => {
    const a = await OurParty.create({ oneTimePreKeys: 2, lastResortKyber: true });
    const b = await OurParty.create({ oneTimePreKeys: 2, lastResortKyber: true });
    await a.builder.processPreKeyBundle(b.address, await b.bundle(1));
    const world: World = { parties: [a, b] };
    const model: Model = {
      nextId: 0,
      inFlight: [],
      delivered: [],
      received: [
        [0, 0],
        [0, 0],
      ],
      canSend: [
        [false, true],
        [false, false],
      ],
    };
    await new SnapshotRestoreCommand(1).run(model, world);
    await new ReinitiateCommand(1, 0).run(model, world);
    await new SendCommand(1, 0, 1).run(model, world);
    await new DeliverCommand(0).run(model, world);
    expect(model.delivered.length).toBe(1);
  });

  it("every delivered message decrypts exactly once and nothing else is thrown", async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: "max" }), async (cmds) => {
        // Parties 0 and 1 are ours, 2 is libsignal. Sessions: 0→1 (ours to ours),
        // 2→0 (libsignal initiates to us), 1→2 (we initiate to libsignal).
        // Last-resort Kyber prekeys, so re-initiations always find one.
        const a = await OurParty.create({ oneTimePreKeys: 2, lastResortKyber: true });
        const b = await OurParty.create({ oneTimePreKeys: 2, lastResortKyber: true });
        const c = new LibsignalParty();
        await a.builder.processPreKeyBundle(b.address, await b.bundle(1));
        await c.processBundle(a.address, await a.bundle(1));
        await b.builder.processPreKeyBundle(c.address, c.bundle());
        const canSend = [
          [false, true, false],
          [false, false, true],
          [true, false, false],
        ];
        const model: Model = {
          nextId: 0,
          inFlight: [],
          delivered: [],
          received: [
            [0, 0, 0],
            [0, 0, 0],
            [0, 0, 0],
          ],
          canSend,
        };
        await fc.asyncModelRun(() => ({ model, real: { parties: [a, b, c] } }), cmds);
        // Drain: everything still deliverable decrypts.
        while (model.inFlight.length > 0) await new DeliverCommand(0).run(model, { parties: [a, b, c] });
      }),
      { numRuns: 20 },
    );
    expect(totals.delivered).toBeGreaterThan(80);
    expect(totals.duplicates).toBeGreaterThan(15);
    expect(totals.restores).toBeGreaterThan(15);
    expect(totals.reinitiations).toBeGreaterThan(8);
  });
});
