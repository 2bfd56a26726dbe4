/**
 * Model test of the room rules (room-core.ts, spec/09-rooms.md RM-08..RM-34): fast-check
 * commands over five members (four honest, one malicious), an adversarial relay and the
 * members' mailboxes, all in memory. The pure rules run for real; what the driver would do with
 * cryptography is modelled: a member opens an envelope only with that epoch's secret and a
 * sender-key message only with that sender's key from an iteration at or before the message's
 * (a repeated SKDM of a chain already held changes nothing, as `addSenderKeyState` does).
 *
 * Commands: Post, Deliver (the log, in seq order), Mail (a pairwise message; any order across
 * senders, in order per sender), Online (offline/online), Join, Leave, Remove (by the admin;
 * each departure makes the admin rotate), Replay (the relay re-appends an old envelope or join
 * under a new seq), OldEpochJoin (the removed/departed malicious member's fresh join of an
 * epoch it knows), ForgeWelcome (the malicious member's Welcome naming itself admin),
 * RogueRemove (the malicious member's signed removal of anyone, RM-35: refused unless it is
 * the admin),
 * Drop (the relay withholds a pairwise message for good: a Welcome, SKDM or rotation waiting in
 * the mailbox, or else the next one sent to that member), DuplicateMail (a processed pairwise
 * message delivered again), DuplicateLog (a processed log entry delivered again under its seq;
 * the driver ignores it, API-14 — re-appended bytes under a new seq are Replay), Time (the
 * clock moves half or past MAX_HOLD_MS; the driver's `expireHeld` gives up held messages).
 * Dropping log entries is not modelled: members read the log strictly in seq order and the
 * driver fills gaps (RM-15), so a withheld entry is a stall the member sees, not a silent loss.
 *
 * Invariants after every step: no member shows a message twice or out of its sender's order;
 * a departed member can decrypt no honest message whose sender no longer counted it a member
 * when posting, and is never re-added by a member that processed its departure; a refused input
 * changes no state; a duplicate (mail or log) changes nothing: record, shown, held, reported,
 * keys. At the end everyone comes online, everything is delivered, and the hold bound passes.
 * Then, drops or not, nothing is silently lost (RM-26): every honest message a member was
 * entitled to (its sender counted it a member when posting) and has read past is shown once
 * or was reported lost to that member (held past the bound, pushed out, unreadable); a member
 * that has not read past it must be behind a withheld rotation (the log still holds it). Without
 * drops and early expiry, besides: all honest members are at the relay's epoch, their rosters
 * agree, and every honest message of a sender still present is shown exactly once (see the
 * known limit in `checkCaughtUp`). With drops too, the rosters of the members at the relay's
 * epoch agree: departures are signed statements every member reads (RM-35), whoever's sender
 * key the relay withheld.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Content, ContentSchema, ProfileSchema, RosterMemberSchema, RosterSchema, type Welcome, WelcomeSchema, type RoomSecretRotation, RoomSecretRotationSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { RoomMemberSchema, type RoomRecord, RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import { bytesToHex } from "../crypto/bytes.js";
import { KeyPair } from "../crypto/curve.js";
import { applyLogEvent, applyLogPosition, applyRotation, applyWelcome, type Effect, type Step } from "./room-core.js";
import { boundsForWelcome, closeEpoch, departedIn, holdExpired, MAX_HOLD_MS, refuseEnvelope } from "./room-rules.js";
import { MAX_PENDING_PER_ROOM } from "./room-store.js";

const ROOM_ID = new Uint8Array(16).fill(7);
const secretOf = (epoch: number) => new Uint8Array(32).fill((epoch % 250) + 1);

type LogBody =
  | { kind: "join"; key: Uint8Array; nonce: Uint8Array; token: Uint8Array; name: string }
  | { kind: "msg"; sender: Uint8Array; gen: number; index: number; content: Content; audience: string[] | undefined }
  /** A signed departure (RM-35): `signer` leaves (member = signer) or removes `member`. */
  | { kind: "depart"; signer: Uint8Array; member: Uint8Array };

interface Entry {
  seq: bigint;
  epoch: number;
  body: LogBody;
}

type Pair =
  | { kind: "welcome"; from: Uint8Array; welcome: Welcome; key: { gen: number; from: number } }
  | { kind: "skdm"; from: Uint8Array; gen: number; start: number }
  | { kind: "rotation"; from: Uint8Array; rotation: RoomSecretRotation };

interface Member {
  name: string;
  key: Uint8Array;
  hex: string;
  token: Uint8Array;
  honest: boolean;
  room: RoomRecord | undefined;
  departed: boolean;
  online: boolean;
  gen: number;
  index: number;
  keys: Map<string, Array<{ gen: number; start: number }>>;
  mailbox: Pair[];
  /** Pairwise items already taken from the mailbox (what a duplicate delivery repeats). */
  delivered: Pair[];
  /** How many of the next pairwise messages to this member the relay drops. */
  withhold: number;
  /** RM-26: messages held until their sender key arrives, with the model time they were held. */
  pending: Array<{ e: Entry; heldAt: number }>;
  /** Ids of honest messages reported lost to this member's user (RM-06, RM-23, RM-26). */
  lost: Set<string>;
  /** Pairwise items kept until the roster is set, in arrival order (RM-25, RM-34). */
  held: Pair[];
  kept: Map<number, Pair & { kind: "rotation" }>;
  shown: Array<{ sender: string; index: number; gen: number; seq: bigint; id: string }>;
  /** Every sender key ever addressed to this member (what it knows, delivered or not). */
  knows: Array<{ owner: string; gen: number; start: number }>;
  /** Members whose departure this member processed (never to be re-added by it). */
  sawDepart: Set<string>;
  counter: number;
  /** Who invited this member (a member invited by the malicious one trusts a liar, RM-25). */
  invitedBy?: Member;
}

const same = (a: Uint8Array, b: Uint8Array) => bytesToHex(a) === bytesToHex(b);

/** The world: the relay's log, its current epoch, and every member. */
class World {
  log: Entry[] = [];
  relayEpoch = 0;
  members: Member[] = [];
  reports = 0;
  refusedJoins = 0;
  shownTotal = 0;
  /** Model clock (ms) for the RM-26 hold bound, and how many pairwise items the relay dropped. */
  now = 0;
  dropped = 0;
  duplicates = 0;
  /** Held messages given up because time passed before the end of the run. */
  expired = 0;
  /** Seq of each member's departure (leave, or removal by the admin), as appended. */
  departSeq = new Map<string, bigint>();

  constructor(names: string[], maliciousIndex: number) {
    for (const [i, name] of names.entries()) {
      const key = KeyPair.generate().publicKey.serialize();
      this.members.push({
        name,
        key,
        hex: bytesToHex(key),
        token: new Uint8Array(32).fill(i + 1),
        honest: i !== maliciousIndex,
        room: undefined,
        departed: false,
        online: true,
        gen: 0,
        index: 0,
        keys: new Map(),
        mailbox: [],
        delivered: [],
        withhold: 0,
        pending: [],
        lost: new Set(),
        held: [],
        kept: new Map(),
        shown: [],
        knows: [],
        sawDepart: new Set(),
        counter: 0,
      });
    }
  }

  byKey(key: Uint8Array): Member | undefined {
    return this.members.find((m) => same(m.key, key));
  }

  get latestSeq(): bigint {
    return BigInt(this.log.length);
  }

  append(epoch: number, body: LogBody): Entry {
    const e = { seq: this.latestSeq + 1n, epoch, body };
    this.log.push(e);
    return e;
  }

  send(to: Member, item: Pair): void {
    if (to.withhold > 0) {
      to.withhold--; // the relay drops it (DropCmd)
      this.dropped++;
      return;
    }
    to.mailbox.push(item);
    if (item.kind === "skdm") to.knows.push({ owner: bytesToHex(item.from), gen: item.gen, start: item.start });
    if (item.kind === "welcome") to.knows.push({ owner: bytesToHex(item.from), gen: item.key.gen, start: item.key.from });
  }

  /** Creator: member 0 makes the room at epoch 0 (RM-01). */
  create(creator: Member): void {
    creator.room = create(RoomRecordSchema, {
      roomId: ROOM_ID,
      name: "model",
      roomSecret: secretOf(0),
      epoch: 0,
      adminIdentityKey: creator.key,
      members: [create(RoomMemberSchema, { identityKey: creator.key, displayName: creator.name, joinedSeq: 0n, deliveryToken: creator.token, distributionId: new Uint8Array(16) })],
      lastSeq: 0n,
      distributionId: new Uint8Array(16),
      joinedSeq: 0n,
    });
  }

  /** `m` joins with an invite from `inviter` (RM-08, RM-25). */
  join(m: Member, inviter: Member): boolean {
    if (m.room !== undefined || inviter.room === undefined || inviter.departed || inviter.room.adminIdentityKey.length === 0) return false;
    const epoch = inviter.room.epoch;
    if (epoch !== this.relayEpoch) return false; // the relay refuses a rotated-away access key
    const e = this.append(epoch, { kind: "join", key: m.key, nonce: crypto.getRandomValues(new Uint8Array(16)), token: m.token, name: m.name });
    m.room = create(RoomRecordSchema, {
      roomId: ROOM_ID,
      name: "model",
      roomSecret: secretOf(epoch),
      epoch,
      adminIdentityKey: new Uint8Array(0),
      members: [],
      lastSeq: e.seq,
      distributionId: new Uint8Array(16),
      joinedSeq: e.seq,
      inviterIdentityKey: inviter.key,
    });
    m.gen++;
    m.index = 0;
    m.invitedBy = inviter;
    return true;
  }

  active(m: Member): boolean {
    return m.room !== undefined && !m.departed && m.room.adminIdentityKey.length > 0;
  }

  /** `m` posts content (a text, leave or remove) as a sender-key message (RM-07, RM-27). */
  post(m: Member, body: Content["body"]): Entry | undefined {
    if (!this.active(m) || m.room!.epoch !== this.relayEpoch) return undefined;
    const content = create(ContentSchema, { roomId: ROOM_ID, messageId: crypto.getRandomValues(new Uint8Array(16)), sentAtMs: 1n, body });
    const audience = body.case === "text" && m.honest ? m.room!.members.map((x) => bytesToHex(x.identityKey)) : undefined;
    const e = this.append(m.room!.epoch, { kind: "msg", sender: m.key, gen: m.gen, index: m.index++, content, audience });
    return e;
  }

  /** `m` posts a signed departure of `member` (itself: a leave; another: a removal), RM-35. */
  depart(m: Member, member: Uint8Array): Entry | undefined {
    if (!this.active(m) || m.room!.epoch !== this.relayEpoch) return undefined;
    return this.append(m.room!.epoch, { kind: "depart", signer: m.key, member });
  }

  canOpen(m: Member, epoch: number): boolean {
    const r = m.room!;
    return (epoch === r.epoch && r.roomSecret.length === 32) || r.previousSecrets.some((p) => p.epoch === epoch);
  }

  keyFor(m: Member, sender: Uint8Array, gen: number, index: number): "yes" | "no" | "too-late" {
    const ks = m.keys.get(bytesToHex(sender)) ?? [];
    const k = ks.find((x) => x.gen === gen);
    if (k === undefined) return "no";
    return k.start <= index ? "yes" : "too-late";
  }

  /** Runs a rule and checks "a refused input changes no state". */
  run(m: Member, before: RoomRecord, step: Step): void {
    const onlyReports = step.effects.length > 0 && step.effects.every((e) => e.type === "emit" && e.event.type === "decryption-failed");
    if (onlyReports) expect(step.room).toBe(before);
    m.room = step.room;
    for (const e of step.effects) this.effect(m, e);
  }

  effect(m: Member, e: Effect): void {
    const r = m.room!;
    switch (e.type) {
      case "emit": {
        const ev = e.event;
        if (ev.type === "decryption-failed") this.reports++;
        // RM-36: nobody here lies about departures, so no rotation may be found to have lied.
        if (ev.type === "decryption-failed") expect(ev.reason, `${m.name} doubts a rotation`).not.toMatch(/rotation named departures/);
        return;
      }
      case "welcome": {
        const to = this.byKey(e.to);
        if (to === undefined) return;
        const welcome = create(WelcomeSchema, {
          distributionMessage: new Uint8Array(0),
          profile: create(ProfileSchema, { displayName: m.name }),
          deliveryToken: m.token,
          roster: create(RosterSchema, {
            members: r.members.map((x) => create(RosterMemberSchema, { identityKey: x.identityKey, profile: create(ProfileSchema, { displayName: x.displayName }), joinedSeq: x.joinedSeq, deliveryToken: x.deliveryToken })),
            asOfSeq: e.asOfSeq,
            adminIdentityKey: r.adminIdentityKey,
            epoch: r.epoch,
            epochBounds: boundsForWelcome(r),
          }),
        });
        this.send(to, { kind: "welcome", from: m.key, welcome, key: { gen: m.gen, from: m.index } });
        return;
      }
      case "forget-sender":
        m.keys.delete(bytesToHex(e.member));
        m.sawDepart.add(bytesToHex(e.member));
        return;
      case "rotate-sender-key":
        m.gen++;
        m.index = 0;
        for (const x of r.members) {
          const to = this.byKey(x.identityKey);
          if (to !== undefined && to !== m) this.send(to, { kind: "skdm", from: m.key, gen: m.gen, start: 0 });
        }
        return;
      case "rotate-secret": {
        // Performed at once (a valid interleaving of the outbox): RotateRoomAccessKey, then the
        // relay's latest seq closes the epoch (RM-13, RM-23).
        if (!same(r.adminIdentityKey, m.key) || r.epoch !== this.relayEpoch) return;
        const epoch = r.epoch + 1;
        this.relayEpoch = epoch;
        const closedAtSeq = this.latestSeq > e.departureSeq ? this.latestSeq : e.departureSeq;
        closeEpoch(r, r.epoch, closedAtSeq, e.departureSeq);
        r.previousSecrets.push({ $typeName: "securecomm.storage.v1.RoomEpochSecret", epoch: r.epoch, roomSecret: r.roomSecret });
        r.roomSecret = secretOf(epoch);
        r.epoch = epoch;
        for (const x of r.members) {
          const to = this.byKey(x.identityKey);
          if (to === undefined || to === m) continue;
          this.send(to, { kind: "rotation", from: m.key, rotation: create(RoomSecretRotationSchema, { epoch, roomSecret: secretOf(epoch), departureSeq: e.departureSeq, closedAtSeq, departedIdentityKeys: departedIn(r, Math.min(e.departureEpoch, r.epoch - 1), r.epoch - 1) }) });
        }
        return;
      }
      case "depart":
        m.departed = true;
        return;
      case "accept-welcome-key": {
        if (!r.members.some((x) => same(x.identityKey, e.from))) return;
        const item = (m as Member & { lastWelcome?: Map<Welcome, { gen: number; from: number }> }).lastWelcome?.get(e.welcome);
        if (item === undefined) return;
        this.addKey(m, e.from, item.gen, item.from);
        const to = this.byKey(e.from);
        // RM-26: the answer carries the first SKDM of our current distribution.
        if (to !== undefined) this.send(to, { kind: "skdm", from: m.key, gen: m.gen, start: 0 });
        return;
      }
      case "hold-welcome":
        m.held.push({ kind: "welcome", from: e.from, welcome: e.welcome, key: this.welcomeKey(m, e.welcome) });
        return;
      case "roster-set": {
        const held = m.held.splice(0);
        for (const item of held) this.pairwise(m, item);
        return;
      }
      case "identity-suspect":
      case "resubscribe":
        return;
      case "keep-rotation":
        m.kept.set(e.rotation.epoch, { kind: "rotation", from: e.from, rotation: e.rotation });
        return;
    }
  }

  welcomeKey(m: Member, w: Welcome): { gen: number; from: number } {
    return (m as Member & { lastWelcome?: Map<Welcome, { gen: number; from: number }> }).lastWelcome!.get(w)!;
  }

  addKey(m: Member, owner: Uint8Array, gen: number, start: number): void {
    const k = bytesToHex(owner);
    const list = m.keys.get(k) ?? [];
    // A sender key already held for this chain is kept as it is (the product's
    // `addSenderKeyState` keeps an existing state of the same chain and signing key): a repeated
    // or later SKDM of the same chain never moves where it starts.
    if (list.some((x) => x.gen === gen)) return;
    list.push({ gen, start });
    m.keys.set(k, list);
    this.retryPending(m);
  }

  welcome(m: Member, item: Pair & { kind: "welcome" }): void {
    const mm = m as Member & { lastWelcome?: Map<Welcome, { gen: number; from: number }> };
    mm.lastWelcome ??= new Map();
    mm.lastWelcome.set(item.welcome, item.key);
    const before = m.room!;
    this.run(m, before, applyWelcome(before, m.key, item.from, item.welcome, { displayName: m.name, deliveryToken: m.token }));
  }

  /** One mailbox item from sender `pick` (in order per sender, any order across senders). */
  deliverMailbox(m: Member, pick: number): void {
    if (m.room === undefined || m.departed || !m.online || m.mailbox.length === 0) return;
    const senders = [...new Set(m.mailbox.map((x) => bytesToHex(x.from)))];
    const sender = senders[pick % senders.length]!;
    const i = m.mailbox.findIndex((x) => bytesToHex(x.from) === sender);
    const [item] = m.mailbox.splice(i, 1);
    if (item === undefined) return;
    m.delivered.push(item);
    this.pairwise(m, item);
  }

  pairwise(m: Member, item: Pair): void {
    const r = m.room!;
    if (r.adminIdentityKey.length === 0 && item.kind !== "welcome") {
      m.held.push(item); // RM-34: before our roster, kept
      return;
    }
    if (item.kind === "welcome") {
      this.welcome(m, item);
      return;
    }
    if (!r.members.some((x) => same(x.identityKey, item.from))) return; // RM-22
    if (item.kind === "skdm") {
      this.addKey(m, item.from, item.gen, item.start);
      return;
    }
    m.kept.set(item.rotation.epoch, item);
    for (;;) {
      const next = m.kept.get(m.room!.epoch + 1);
      if (next === undefined) break;
      m.kept.delete(m.room!.epoch + 1);
      const before = m.room!;
      this.run(m, before, applyRotation(before, m.key, next.from, next.rotation));
    }
  }

  /** The next log entry for `m` (RM-15: strictly in seq order). */
  deliverLog(m: Member): boolean {
    if (!this.active(m) || !m.online) return false;
    const e = this.log[Number(m.room!.lastSeq)];
    if (e === undefined) return false;
    return this.deliverEntry(m, e);
  }

  /** The driver's handling of one log entry from the relay (also a repeated one). */
  deliverEntry(m: Member, e: Entry): boolean {
    if (e.seq <= m.room!.lastSeq) return false; // a duplicate (API-14): already processed
    // The relay serves the log only with the current access key: a member behind a rotation
    // waits for the new secret (RM-14) before reading envelopes of the new epoch.
    if (e.epoch > m.room!.epoch) return false;
    m.room!.lastSeq = e.seq;
    this.process(m, e);
    if (!m.departed) this.run(m, m.room!, applyLogPosition(m.room!, m.key, e.seq));
    return true;
  }

  process(m: Member, e: Entry): void {
    const before = m.room!;
    if (!this.canOpen(m, e.epoch)) {
      this.lose(m, e); // RM-06: skipped, reported
      return;
    }
    const b = e.body;
    if (b.kind === "join") {
      this.run(m, before, applyLogEvent(before, m.key, { kind: "join", seq: e.seq, epoch: e.epoch, identityKey: b.key, nonce: b.nonce, deliveryToken: b.token, displayName: b.name }));
      return;
    }
    if (b.kind === "depart") {
      this.run(m, before, applyLogEvent(before, m.key, { kind: "departure", seq: e.seq, epoch: e.epoch, signer: b.signer, member: b.member }));
      return;
    }
    if (same(b.sender, m.key)) {
      const c = b.content.body;
      const departure = c.case === "remove" ? c.value.memberIdentityKey : undefined;
      this.run(m, before, applyLogEvent(before, m.key, { kind: "own", seq: e.seq, epoch: e.epoch, ...(departure === undefined ? {} : { departure }) }));
      return;
    }
    if (refuseEnvelope(before, e.epoch, e.seq) !== undefined) {
      m.lost.add(bytesToHex(b.content.messageId));
      this.run(m, before, applyLogEvent(before, m.key, { kind: "content", seq: e.seq, epoch: e.epoch, postedAtMs: 0n, sender: b.sender, content: b.content }));
      return;
    }
    const k = this.keyFor(m, b.sender, b.gen, b.index);
    if (k === "no") {
      // RM-26: held until the sender key arrives; the oldest is pushed out (reported lost).
      if (m.pending.length >= MAX_PENDING_PER_ROOM) this.lose(m, m.pending.shift()!.e);
      m.pending.push({ e, heldAt: this.now });
      return;
    }
    this.decrypted(m, e, k);
  }

  decrypted(m: Member, e: Entry, k: "yes" | "too-late"): void {
    const b = e.body as LogBody & { kind: "msg" };
    if (k === "too-late") {
      this.lose(m, e);
      return;
    }
    const id = bytesToHex(b.content.messageId);
    const dup = m.shown.some((s) => s.id === id);
    const before = m.room!;
    const step = applyLogEvent(before, m.key, { kind: "content", seq: e.seq, epoch: e.epoch, postedAtMs: 0n, sender: b.sender, content: b.content });
    if (dup && b.content.body.case === "text") return; // RM-29 de-duplication (the driver's)
    for (const eff of step.effects) {
      if (eff.type === "emit" && eff.event.type === "message") {
        m.shown.push({ sender: bytesToHex(b.sender), index: b.index, gen: b.gen, seq: e.seq, id });
        this.shownTotal++;
      }
    }
    this.run(m, before, step);
  }

  retryPending(m: Member): void {
    if (m.departed) return;
    for (const p of [...m.pending]) {
      const b = p.e.body as LogBody & { kind: "msg" };
      const k = this.keyFor(m, b.sender, b.gen, b.index);
      if (k === "no") continue;
      m.pending.splice(m.pending.indexOf(p), 1);
      this.decrypted(m, p.e, k);
    }
  }

  /** Reports a log entry lost to `m`'s user ("decryption-failed"), noting which message it was. */
  lose(m: Member, e: Entry): void {
    this.reports++;
    if (e.body.kind === "msg") m.lost.add(bytesToHex(e.body.content.messageId));
  }

  /** Time passes; the driver's `expireHeld` gives up messages held too long (RM-26). */
  advance(ms: number): void {
    this.now += ms;
    for (const m of this.members) {
      if (m.room === undefined || m.departed || !m.online) continue;
      for (const p of [...m.pending]) {
        if (!holdExpired(p.heldAt, this.now)) continue;
        m.pending.splice(m.pending.indexOf(p), 1);
        this.lose(m, p.e);
        this.expired++;
      }
    }
  }

  /** What a repeated input must leave unchanged: the record, what was shown, the keys known. */
  snapshot(m: Member): string {
    const keys = [...m.keys].map(([k, v]) => `${k}:${v.map((x) => `${x.gen}/${x.start}`).sort().join(",")}`).sort();
    return [bytesToHex(toBinary(RoomRecordSchema, m.room!)), m.shown.length, m.pending.length, m.lost.size, keys.join(";")].join("|");
  }

  /** Delivers everything to every online member that is still in the room, until quiet. */
  drain(): void {
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const m of this.members) {
        if (m.room === undefined || m.departed || !m.online) continue;
        while (this.deliverLog(m)) moved = true;
        if (m.mailbox.length > 0) {
          this.deliverMailbox(m, 0);
          moved = true;
        }
      }
      if (!moved) return;
    }
    throw new Error("drain did not settle");
  }

  /** Invariants that hold after every step. */
  checkAlways(): void {
    for (const m of this.members) {
      // Exactly once, in each sender's order.
      const ids = m.shown.map((s) => s.id);
      expect(new Set(ids).size).toBe(ids.length);
      const bySender = new Map<string, Array<[number, number]>>();
      for (const s of m.shown) bySender.set(s.sender, [...(bySender.get(s.sender) ?? []), [s.gen, s.index]]);
      for (const list of bySender.values()) {
        for (let i = 1; i < list.length; i++) {
          const [g0, i0] = list[i - 1]!;
          const [g1, i1] = list[i]!;
          expect(g1 > g0 || (g1 === g0 && i1 > i0)).toBe(true);
        }
      }
      // A member never re-adds someone whose departure it processed.
      if (m.room !== undefined && !m.departed) for (const x of m.room.members) expect(m.sawDepart.has(bytesToHex(x.identityKey))).toBe(false);
    }
    // Nobody decrypts an honest message whose sender no longer counted it a member.
    for (const e of this.log) {
      if (e.body.kind !== "msg" || e.body.audience === undefined) continue;
      const b = e.body;
      for (const x of this.members) {
        if (b.audience!.includes(x.hex) || same(x.key, b.sender)) continue;
        const could = x.knows.some((k) => k.owner === bytesToHex(b.sender) && k.gen === b.gen && k.start <= b.index);
        // A member that joined after the post never learns an earlier key: only departed ones matter.
        expect(could && x.room !== undefined && x.room.joinedSeq < e.seq, `${x.name} reads ${e.seq}`).toBe(false);
      }
    }
  }

  /** Invariants once everything was delivered. */
  checkCaughtUp(): void {
    // Members invited by the malicious one are excluded: they trust its roster by design (RM-25).
    // A member whose rotation the relay withheld stays behind (it cannot read the new epoch,
    // RM-14): nothing is lost to it, the log still holds it; it is left out of the roster check.
    const honest = this.members.filter((m) => m.honest && this.active(m) && m.online && m.invitedBy?.honest !== false);
    const current = honest.filter((m) => m.room!.epoch === this.relayEpoch);
    // Rosters agree among the members at the relay's epoch whatever the relay withheld:
    // departures are signed statements every member reads (RM-35), and a rotation names the
    // departures and admin succession a member could not read yet (RM-34, RM-36).
    if (this.dropped === 0) expect(current.length).toBe(honest.length);
    const rosters = current.map((m) => [bytesToHex(m.room!.adminIdentityKey), ...m.room!.members.map((x) => bytesToHex(x.identityKey)).sort()].join(","));
    const name = (hex: string) => this.members.find((x) => x.hex === hex)?.name ?? "?";
    const views = current.map((m) => `${m.name}: admin ${name(bytesToHex(m.room!.adminIdentityKey))} [${m.room!.members.map((x) => name(bytesToHex(x.identityKey))).join(" ")}] epoch ${m.room!.epoch}`);
    expect(new Set(rosters).size, views.join("; ")).toBeLessThanOrEqual(1);
    for (const e of this.log) {
      if (e.body.kind !== "msg" || e.body.audience === undefined || e.body.content.body.case !== "text") continue;
      const id = bytesToHex(e.body.content.messageId);
      // Nothing silently lost (RM-26): whatever the relay dropped, every honest message a member
      // was entitled to and has read past is shown once or was reported lost to its user.
      for (const m of honest) {
        if (!e.body.audience.includes(m.hex) || same(m.key, e.body.sender) || m.room!.joinedSeq >= e.seq) continue;
        const shown = m.shown.filter((s) => s.id === id).length;
        expect(shown, `${m.name} shows ${e.seq} at most once`).toBeLessThanOrEqual(1);
        if (m.room!.lastSeq < e.seq) {
          expect(m.room!.epoch < this.relayEpoch, `${m.name} read up to ${e.seq}`).toBe(true);
          continue;
        }
        expect(shown === 1 || m.lost.has(id), `${m.name} shows ${e.seq} or reports it lost`).toBe(true);
      }
      // Without drops and with no hold given up early, nothing is lost to a sender still present.
      if (this.dropped > 0 || this.expired > 0) continue;
      // Known limit (spec RM-26): once a sender has departed, its keys are forgotten and later
      // sender keys from it are dropped, so its posts still held then are lost (reported). The
      // delivery guarantee is checked for senders that are still members.
      if (this.departSeq.has(bytesToHex(e.body.sender))) continue;
      for (const m of honest) {
        if (!e.body.audience.includes(m.hex) || same(m.key, e.body.sender)) continue;
        if (m.room!.joinedSeq >= e.seq) continue;
        expect(m.shown.filter((s) => s.id === id).length, `${m.name} shows ${e.seq} once`).toBe(1);
      }
    }
  }
}

type Cmd = fc.Command<object, World>;

class PostCmd implements Cmd {
  constructor(readonly who: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const m = w.members[this.who % w.members.length]!;
    const e = w.post(m, { case: "text", value: { $typeName: "securecomm.wire.v1.Text", body: `t${m.counter++}` } });
    void e;
  }
  toString = () => `Post(${this.who})`;
}
class DeliverCmd implements Cmd {
  constructor(readonly who: number, readonly n: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const m = w.members[this.who % w.members.length]!;
    for (let i = 0; i < this.n; i++) w.deliverLog(m);
  }
  toString = () => `Deliver(${this.who},${this.n})`;
}
class MailCmd implements Cmd {
  constructor(readonly who: number, readonly pick: number) {}
  check = () => true;
  run(_: object, w: World): void {
    w.deliverMailbox(w.members[this.who % w.members.length]!, this.pick);
  }
  toString = () => `Mail(${this.who},${this.pick})`;
}
class OnlineCmd implements Cmd {
  constructor(readonly who: number, readonly online: boolean) {}
  check = () => true;
  run(_: object, w: World): void {
    w.members[this.who % w.members.length]!.online = this.online;
  }
  toString = () => `Online(${this.who},${this.online})`;
}
class JoinCmd implements Cmd {
  constructor(readonly who: number, readonly inviter: number) {}
  check = () => true;
  run(_: object, w: World): void {
    w.join(w.members[this.who % w.members.length]!, w.members[this.inviter % w.members.length]!);
  }
  toString = () => `Join(${this.who} by ${this.inviter})`;
}
class LeaveCmd implements Cmd {
  constructor(readonly who: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const m = w.members[this.who % w.members.length]!;
    const e = w.depart(m, m.key);
    if (e === undefined) return;
    m.departed = true; // RM-10
    if (!w.departSeq.has(m.hex)) w.departSeq.set(m.hex, e.seq);
  }
  toString = () => `Leave(${this.who})`;
}
class RemoveCmd implements Cmd {
  constructor(readonly target: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const target = w.members[this.target % w.members.length]!;
    const admin = w.members.find((m) => w.active(m) && same(m.room!.adminIdentityKey, m.key));
    if (admin === undefined || admin === target || !admin.room!.members.some((x) => same(x.identityKey, target.key))) return;
    const e = w.depart(admin, target.key);
    if (e !== undefined && !w.departSeq.has(target.hex)) w.departSeq.set(target.hex, e.seq);
  }
  toString = () => `Remove(${this.target})`;
}
class ReplayCmd implements Cmd {
  constructor(readonly pick: number, readonly joinsOnly: boolean) {}
  check = () => true;
  run(_: object, w: World): void {
    const pool = w.log.filter((e) => !this.joinsOnly || e.body.kind === "join");
    const e = pool[this.pick % Math.max(1, pool.length)];
    if (e !== undefined) w.append(e.epoch, e.body); // the relay re-appends an old envelope
  }
  toString = () => `Replay(${this.pick},${this.joinsOnly ? "join" : "any"})`;
}
class OldEpochJoinCmd implements Cmd {
  constructor(readonly epochBack: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const mal = w.members.find((m) => !m.honest)!;
    if (mal.room === undefined) return;
    const known = [mal.room.epoch, ...mal.room.previousSecrets.map((p) => p.epoch)];
    const epoch = known[this.epochBack % Math.max(1, known.length)];
    if (epoch === undefined) return;
    // The malicious member signs a fresh join for an epoch it knows; the relay appends it.
    w.append(epoch, { kind: "join", key: mal.key, nonce: crypto.getRandomValues(new Uint8Array(16)), token: mal.token, name: mal.name });
  }
  toString = () => `OldEpochJoin(${this.epochBack})`;
}
class ForgeWelcomeCmd implements Cmd {
  constructor(readonly victim: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const mal = w.members.find((m) => !m.honest)!;
    const v = w.members[this.victim % w.members.length]!;
    if (v === mal || v.room === undefined) return;
    const welcome = create(WelcomeSchema, {
      distributionMessage: new Uint8Array(0),
      profile: create(ProfileSchema, { displayName: mal.name }),
      deliveryToken: mal.token,
      roster: create(RosterSchema, {
        members: [mal, v].map((x) => create(RosterMemberSchema, { identityKey: x.key, profile: create(ProfileSchema, { displayName: x.name }), joinedSeq: v.room!.joinedSeq, deliveryToken: x.token })),
        asOfSeq: v.room.joinedSeq,
        adminIdentityKey: mal.key,
        epoch: v.room.epoch,
      }),
    });
    w.send(v, { kind: "welcome", from: mal.key, welcome, key: { gen: mal.gen, from: mal.index } });
  }
  toString = () => `ForgeWelcome(${this.victim})`;
}

class RogueRemoveCmd implements Cmd {
  constructor(readonly target: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const mal = w.members.find((m) => !m.honest)!;
    const target = w.members[this.target % w.members.length]!;
    // The malicious member signs a removal (RM-35) whether or not it is the admin: members
    // refuse it unless it is (a validly signed statement, so only the rule stops it).
    const isAdmin = mal.room !== undefined && same(mal.room.adminIdentityKey, mal.key);
    const e = w.depart(mal, target.key);
    if (e !== undefined && isAdmin && target !== mal && !w.departSeq.has(target.hex)) w.departSeq.set(target.hex, e.seq);
  }
  toString = () => `RogueRemove(${this.target})`;
}

class DropCmd implements Cmd {
  constructor(readonly who: number, readonly pick: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const m = w.members[this.who % w.members.length]!;
    // The relay withholds one pairwise message (a Welcome, SKDM or rotation) for good: one
    // waiting in the mailbox, or else the next one sent to this member.
    if (m.mailbox.length === 0) {
      m.withhold++;
      return;
    }
    m.mailbox.splice(this.pick % m.mailbox.length, 1);
    w.dropped++;
  }
  toString = () => `Drop(${this.who},${this.pick})`;
}
class DuplicateMailCmd implements Cmd {
  constructor(readonly who: number, readonly pick: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const m = w.members[this.who % w.members.length]!;
    if (!w.active(m) || !m.online || m.delivered.length === 0) return;
    const item = m.delivered[this.pick % m.delivered.length]!;
    // The relay (or the network) delivers a processed pairwise message again: nothing changes.
    const before = w.snapshot(m);
    w.pairwise(m, item);
    if (m.departed) return;
    expect(w.snapshot(m), `duplicate ${item.kind}`).toBe(before);
    w.duplicates++;
  }
  toString = () => `DuplicateMail(${this.who},${this.pick})`;
}
class DuplicateLogCmd implements Cmd {
  constructor(readonly who: number, readonly pick: number) {}
  check = () => true;
  run(_: object, w: World): void {
    const m = w.members[this.who % w.members.length]!;
    if (!w.active(m) || !m.online || m.room!.lastSeq === 0n) return;
    const e = w.log[this.pick % Number(m.room!.lastSeq)]!;
    // The relay delivers an entry the member already processed again, under its seq (API-14).
    const before = w.snapshot(m);
    expect(w.deliverEntry(m, e)).toBe(false);
    expect(w.snapshot(m)).toBe(before);
    w.duplicates++;
  }
  toString = () => `DuplicateLog(${this.who},${this.pick})`;
}
class TimeCmd implements Cmd {
  constructor(readonly long: boolean) {}
  check = () => true;
  run(_: object, w: World): void {
    w.advance(this.long ? MAX_HOLD_MS + 1 : MAX_HOLD_MS / 2);
  }
  toString = () => `Time(${this.long ? "past the hold bound" : "half the hold bound"})`;
}

const N = 7; // four honest founders, one malicious member, two honest late joiners
const who = fc.nat({ max: N - 1 });
const commands = [
  who.map((i) => new PostCmd(i)),
  who.map((i) => new PostCmd(i)),
  fc.tuple(who, fc.integer({ min: 1, max: 6 })).map(([i, n]) => new DeliverCmd(i, n)),
  fc.tuple(who, fc.integer({ min: 1, max: 6 })).map(([i, n]) => new DeliverCmd(i, n)),
  fc.tuple(who, fc.nat(5)).map(([i, p]) => new MailCmd(i, p)),
  fc.tuple(who, fc.nat(5)).map(([i, p]) => new MailCmd(i, p)),
  fc.tuple(who, fc.boolean()).map(([i, on]) => new OnlineCmd(i, on)),
  fc.tuple(fc.integer({ min: 5, max: 6 }), who).map(([i, by]) => new JoinCmd(i, by)),
  who.map((i) => new LeaveCmd(i)),
  who.map((i) => new RemoveCmd(i)),
  fc.tuple(fc.nat(50), fc.boolean()).map(([p, j]) => new ReplayCmd(p, j)),
  fc.nat(3).map((b) => new OldEpochJoinCmd(b)),
  who.map((i) => new ForgeWelcomeCmd(i)),
  who.map((i) => new RogueRemoveCmd(i)),
  fc.tuple(who, fc.nat(5)).map(([i, p]) => new DropCmd(i, p)),
  fc.tuple(who, fc.nat(5)).map(([i, p]) => new DropCmd(i, p)),
  fc.tuple(who, fc.nat(20)).map(([i, p]) => new DuplicateMailCmd(i, p)),
  fc.tuple(who, fc.nat(50)).map(([i, p]) => new DuplicateLogCmd(i, p)),
  fc.boolean().map((l) => new TimeCmd(l)),
];

/** A room of four honest members and the malicious one (index 4), everyone caught up. */
function setup(): World {
  const w = new World(["alice", "bob", "carol", "dave", "mallory", "erin", "frank"], 4);
  const [alice, bob, carol, dave, mallory] = w.members;
  w.create(alice!);
  for (const m of [bob!, carol!, mallory!, dave!]) {
    w.join(m, alice!);
    w.drain();
  }
  return w;
}

const totals = { runs: 0, shown: 0, reports: 0, dropped: 0, duplicates: 0 };

/**
 * The seed: a fresh random one on every run (printed, so a failure can be replayed with
 * `ROOM_MODEL_SEED=<seed>`), or the one `ROOM_MODEL_SEED` names. Every counterexample found so
 * far is kept below as a named regression (its command sequence), so a fixed hole stays fixed
 * whatever seed runs.
 */
function modelSeed(): number {
  const chosen = process.env.ROOM_MODEL_SEED;
  if (chosen === undefined || chosen === "" || chosen === "random") return Date.now() % 2 ** 31;
  const seed = Number(chosen);
  if (!Number.isSafeInteger(seed)) throw new TypeError("ROOM_MODEL_SEED must be an integer or 'random'");
  return seed;
}

describe("room rules model (spec/09-rooms.md)", () => {
  it("RM-08 RM-15 RM-23 RM-24 RM-25 RM-26 RM-28 RM-35 RM-36: rosters agree, honest messages reach members exactly once in order or are reported lost, departed members read nothing new, refusals and duplicates change nothing", () => {
    const seed = modelSeed();
    // ROOM_MODEL_RUNS=<n> explores longer (default 250).
    console.log(`room model seed: ${seed} (ROOM_MODEL_SEED=${seed} replays it)`);
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80 }), (cmds) => {
        const w = setup();
        w.checkAlways();
        fc.modelRun(() => ({ model: {}, real: w }), cmds);
        w.checkAlways();
        for (const m of w.members) m.online = true;
        w.drain();
        w.advance(MAX_HOLD_MS + 1); // what is still held is given up, and reported (RM-26)
        w.checkAlways();
        w.checkCaughtUp();
        totals.runs++;
        totals.dropped += w.dropped;
        totals.duplicates += w.duplicates;
        totals.shown += w.shownTotal;
        totals.reports += w.reports;
      }),
      { seed, numRuns: Number(process.env.ROOM_MODEL_RUNS ?? 250) },
    );
    // The runs exercised real traffic and real refusals.
    expect(totals.shown).toBeGreaterThan(200);
    expect(totals.reports).toBeGreaterThan(50);
    console.log(`room model totals: ${JSON.stringify(totals)}`);
    expect(totals.dropped).toBeGreaterThan(20);
    expect(totals.duplicates).toBeGreaterThan(20);
  });

  /** Runs named commands to the end and checks every invariant (a found counterexample, kept). */
  function replay(cmds: Cmd[]): void {
    const w = setup();
    fc.modelRun(() => ({ model: {}, real: w }), cmds);
    w.checkAlways();
    for (const m of w.members) m.online = true;
    w.drain();
    w.advance(MAX_HOLD_MS + 1);
    w.checkAlways();
    w.checkCaughtUp();
  }

  it("RM-34 RM-35 regression: a joiner without the admin's sender key still reads the admin's leave and accepts the successor's rotation", () => {
    replay([new JoinCmd(5, 1), new LeaveCmd(0)]);
  });

  it("RM-34 regression: a rotation names every departure of the epoch it closes, not only the last", () => {
    replay([new JoinCmd(5, 0), new RemoveCmd(1), new LeaveCmd(2)]);
    replay([new JoinCmd(5, 0), new RemoveCmd(2), new RemoveCmd(1), new ForgeWelcomeCmd(0)]);
  });

  it("RM-34 RM-35 regression: a join after a departure its member could not decrypt (once) is refused by every member", () => {
    replay([new JoinCmd(6, 0), new RemoveCmd(1), new JoinCmd(5, 0)]);
  });

  it("RM-24 RM-34 regression: a member who departed in an epoch never comes back through a join of that epoch", () => {
    replay([new JoinCmd(5, 1), new OldEpochJoinCmd(0), new LeaveCmd(4)]);
    replay([new JoinCmd(5, 1), new OldEpochJoinCmd(0), new RemoveCmd(4), new PostCmd(0)]);
  });

  it("RM-34 regression: sender keys and rotations that reach a joiner before its roster wait for it", () => {
    replay([new JoinCmd(5, 1), new RemoveCmd(1), new ForgeWelcomeCmd(0)]);
  });

  it("RM-36 regression (seed 111): a late joiner whose inviter was removed accepts the real successor's rotation", () => {
    // Erin (invited by bob) never gets alice's sender key; alice removes bob and leaves. Erin's
    // roster still names bob as next in line, but carol's rotation names bob and alice departed.
    replay([new JoinCmd(5, 1), new RemoveCmd(1), new LeaveCmd(0)]);
    // The same with erin getting carol's rotation before she has read the log that far.
    replay([new JoinCmd(5, 1), new RemoveCmd(1), new LeaveCmd(0), new DeliverCmd(1, 1), new MailCmd(5, 0), new DeliverCmd(2, 3), ...[0, 1, 2, 3].map(() => new MailCmd(5, 0))]);
  });

  it("RM-35 regression: a member reads a departure posted before it received the leaver's sender key, so it refuses the join after it", () => {
    // Frank joins; carol leaves before welcoming him; erin's join after carol's leave is refused
    // by everyone, frank included (he once accepted it: carol's leave was a sender-key message).
    replay([new JoinCmd(6, 1), new LeaveCmd(2), new JoinCmd(5, 0), new LeaveCmd(0)]);
  });

  it("RM-35 regression: a leave whose sender key the relay withheld from the admin is still read; rosters agree", () => {
    // Bob's new sender key (after carol's leave) never reaches alice; bob leaves with it.
    replay([new DropCmd(0, 0), new LeaveCmd(2), new DeliverCmd(1, 6), new LeaveCmd(1)]);
  });

  it("the invariants catch a broken rule: a join of a closed epoch accepted by a member re-adds the removed member", () => {
    const w = setup();
    const [alice, bob, , , mallory] = w.members;
    w.post(alice!, { case: "remove", value: { $typeName: "securecomm.wire.v1.Remove", memberIdentityKey: mallory!.key } });
    w.drain();
    expect(bob!.room!.members.some((x) => same(x.identityKey, mallory!.key))).toBe(false);
    // Bob loses his bounds (the old engine kept none): the relay's re-append re-adds mallory.
    bob!.room!.epochBounds = [];
    w.append(0, { kind: "join", key: mallory!.key, nonce: crypto.getRandomValues(new Uint8Array(16)), token: mallory!.token, name: "mallory" });
    w.drain();
    expect(() => w.checkAlways()).toThrow();
  });
});
