/**
 * SPQR phase 2 (the ML-KEM Braid) end to end: differential conversations with libsignal-client
 * 0.103 in both setups, and between two SecureComm clients — long, lopsided and bursty, with
 * drops, reordering and duplicates — checking that every delivered message decrypts, every
 * duplicate is refused, and that Braid epochs advance with both sides taking turns sending the
 * ML-KEM key (spec PQ-09..PQ-17).
 */
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { PqRatchetStateSchema, SessionRecordSchema, type SessionState } from "../../gen/securecomm/storage/v1/session_pb.js";
import { concatBytes, utf8 } from "../crypto/bytes.js";
import { aes256CbcEncrypt } from "../crypto/cipher.js";
import { isProtocolError } from "../errors.js";
import { SPQR_EPOCH_MAX_SKIPPED_KEYS, SPQR_MAX_EPOCHS } from "../ratchet/constants.js";
import { chainStep, messageKeys } from "../ratchet/kdf-chains.js";
import { computeMac } from "../ratchet/mac.js";
import { encodeSignalMessageBody, parsePreKeySignalMessage, parseSignalMessage } from "../ratchet/signal-message.js";
import { spqrSend } from "../ratchet/spqr.js";
import { BRAID_MAX_INCOMING_CHUNKS } from "../ratchet/spqr-braid.js";
import { encodeSpqrMessage, parseSpqrMessage, SpqrType } from "../ratchet/spqr-message.js";
import { LIBSIGNAL_SETUPS, LibsignalParty, OurParty, type Party, type PartySetup, seededRandom } from "./parties.test-support.js";
import type { CiphertextMessage } from "./session-cipher.js";

/** The Braid epoch a message's SPQR part carries. */
function braidEpoch(m: CiphertextMessage): number {
  const body = m.type === 3 ? parsePreKeySignalMessage(m.body).message : m.body;
  return parseSpqrMessage(parseSignalMessage(body).pqRatchet).epoch;
}

interface Shape {
  readonly name: string;
  readonly total: number;
  /** Probability that the initiator (rather than the responder) sends the next burst. */
  readonly initiatorShare: number;
  readonly maxBurst: number;
  readonly dropRate: number;
  readonly duplicateRate: number;
}

const shapes: Shape[] = [
  { name: "long balanced bursts", total: 1000, initiatorShare: 0.5, maxBurst: 6, dropRate: 0.05, duplicateRate: 0.05 },
  { name: "lopsided (85% from the initiator)", total: 1500, initiatorShare: 0.85, maxBurst: 10, dropRate: 0.05, duplicateRate: 0.03 },
  { name: "lopsided (85% from the responder), big bursts", total: 1500, initiatorShare: 0.15, maxBurst: 30, dropRate: 0.08, duplicateRate: 0.03 },
];

/** How many sends later a message is delivered at the latest. */
const MAX_LATENESS = 30;

interface Outcome {
  delivered: number;
  dropped: number;
  duplicatesRefused: number;
  /** Highest Braid epoch seen in messages from each side. */
  maxEpoch: Map<Party, number>;
  /** Epochs in which each side's messages were seen, in order of first appearance. */
  epochs: Map<Party, number[]>;
  sentBy: Map<Party, number>;
}

async function converse(a: Party, b: Party, shape: Shape, seed: number): Promise<Outcome> {
  const rand = seededRandom(seed);
  type Item = { id: number; message: CiphertextMessage; delivered: boolean };
  const queues = new Map<Party, Item[]>([
    [a, []],
    [b, []],
  ]);
  const done = new Map<Party, Item[]>([
    [a, []],
    [b, []],
  ]);
  const out: Outcome = {
    delivered: 0,
    dropped: 0,
    duplicatesRefused: 0,
    maxEpoch: new Map([
      [a, 0],
      [b, 0],
    ]),
    epochs: new Map([
      [a, []],
      [b, []],
    ]),
    sentBy: new Map([
      [a, 0],
      [b, 0],
    ]),
  };
  const canSend = new Set<Party>([a]);
  let sent = 0;
  const other = (p: Party) => (p === a ? b : a);
  const deliverOne = async (to: Party) => {
    const queue = queues.get(to) as Item[];
    const from = other(to);
    if (queue.length === 0) return;
    // Reordered within a window, but never later than MAX_LATENESS sends: far later messages
    // lose their Double Ratchet chain (5 kept, DR-15) whatever SPQR does.
    const oldest = queue[0] as Item;
    const pick = sent - oldest.id > MAX_LATENESS ? 0 : Math.floor(rand() * Math.min(queue.length, 8));
    const [item] = queue.splice(pick, 1);
    if (item === undefined) return;
    if (rand() < shape.dropRate && queue.length > 0) {
      out.dropped++;
      return;
    }
    const plaintext = await to.decrypt(from.address, item.message);
    expect(new TextDecoder().decode(plaintext)).toBe(`message ${item.id}`);
    out.delivered++;
    (done.get(to) as Item[]).push(item);
    canSend.add(to);
    if (rand() < shape.duplicateRate) {
      // Replay an already delivered message: refused, and the conversation goes on unharmed.
      const old = (done.get(to) as Item[])[Math.floor(rand() * (done.get(to) as Item[]).length)] as Item;
      let refused = false;
      try {
        await to.decrypt(from.address, old.message);
      } catch (e) {
        refused = true;
        if (to instanceof OurParty) expect(isProtocolError(e)).toBe(true);
      }
      expect(refused).toBe(true);
      out.duplicatesRefused++;
    }
  };
  while (sent < shape.total) {
    const sender = rand() < shape.initiatorShare ? a : b;
    const receiver = other(sender);
    if (!canSend.has(sender)) {
      await deliverOne(sender);
      continue;
    }
    const burst = 1 + Math.floor(rand() * shape.maxBurst);
    for (let i = 0; i < burst && sent < shape.total; i++) {
      const id = sent++;
      const message = await sender.encrypt(receiver.address, utf8(`message ${id}`));
      const epoch = braidEpoch(message);
      out.sentBy.set(sender, (out.sentBy.get(sender) as number) + 1);
      const seen = out.epochs.get(sender) as number[];
      if (!seen.includes(epoch)) seen.push(epoch);
      out.maxEpoch.set(sender, Math.max(out.maxEpoch.get(sender) as number, epoch));
      (queues.get(receiver) as Item[]).push({ id, message, delivered: false });
    }
    // About as many deliveries as sends, so queues stay short and reordering stays local.
    const deliveries = Math.max(0, burst - 1 + Math.floor(rand() * 3));
    for (let i = 0; i < deliveries; i++) await deliverOne(receiver);
    if (rand() < 0.5) await deliverOne(sender);
  }
  for (const to of [a, b]) while ((queues.get(to) as Item[]).length > 0) await deliverOne(to);
  return out;
}

/** Two libsignal parties with a session: the baseline schedule's epochs. */
async function libsignalPair(): Promise<[Party, Party]> {
  const a = new LibsignalParty();
  const b = new LibsignalParty();
  await a.processBundle(b.address, b.bundle());
  return [a, b];
}

const setups: PartySetup[] = [
  ...LIBSIGNAL_SETUPS,
  {
    name: "two SecureComm clients",
    async make() {
      const alice = await OurParty.create();
      const bob = await OurParty.create();
      await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
      return [alice, bob];
    },
  },
];

describe.each(setups)("SPQR Braid conversations: $name (spec PQ-09..PQ-17)", (setup) => {
  for (const shape of shapes) {
    it(`${shape.name}: everything delivered decrypts, duplicates are refused, epochs advance in turn`, async () => {
      const seed = 1 + shapes.indexOf(shape);
      console.log(`spqr-braid conversation seed ${seed}`);
      const [initiator, responder] = await setup.make();
      const out = await converse(initiator, responder, shape, seed);
      expect(out.delivered + out.dropped).toBe(shape.total);
      expect(out.dropped).toBeGreaterThan(5);
      expect(out.duplicatesRefused).toBeGreaterThan(5);
      // Epoch 1's key comes from the initiator, epoch 2's from the responder, and so on: both
      // sides reaching epoch ≥ 3 means each has completed a KEM exchange as the key sender.
      expect(out.maxEpoch.get(initiator)).toBeGreaterThanOrEqual(3);
      expect(out.maxEpoch.get(responder)).toBeGreaterThanOrEqual(3);
      // Epochs only move forward one at a time in what each side sends.
      for (const seen of out.epochs.values()) expect(seen).toEqual(seen.map((_, i) => i + 1));
      // The same schedule between two libsignal parties moves epochs exactly as far: the Braid
      // sends the same kinds of chunk at the same moments as libsignal's.
      const [la, lb] = await libsignalPair();
      const baseline = await converse(la, lb, shape, seed);
      expect([out.maxEpoch.get(initiator), out.maxEpoch.get(responder)]).toEqual([baseline.maxEpoch.get(la), baseline.maxEpoch.get(lb)]);
      console.log(`${setup.name} / ${shape.name}: epochs reached`, [...out.maxEpoch.values()], "sent", [...out.sentBy.values()]);
      // Our stored state stays bounded however lopsided the conversation was (PQ-18).
      for (const [p, peer] of [
        [initiator, responder],
        [responder, initiator],
      ] as const) {
        if (!(p instanceof OurParty)) continue;
        const record = await p.store.loadSession(peer.address);
        const braid = record?.current?.pqRatchet?.braid;
        expect(braid).toBeDefined();
        expect(braid?.incoming.length).toBeLessThanOrEqual(BRAID_MAX_INCOMING_CHUNKS);
        expect(braid?.links.length).toBeLessThanOrEqual(SPQR_MAX_EPOCHS);
        for (const link of braid?.links ?? []) expect(link.skippedKeys.length).toBeLessThanOrEqual(SPQR_EPOCH_MAX_SKIPPED_KEYS);
      }
    }, 120_000);
  }
});

/**
 * A Double Ratchet message from `state` whose SPQR part is replaced by `lie(epoch, index)`
 * with the epoch and index of the honest one, so the receiver derives the same keys and the
 * MAC is valid: only the Braid logic can refuse it (the peer lies, it is not a forger).
 */
function lyingMessage(state: SessionState, lie: (epoch: number, index: number) => Uint8Array): CiphertextMessage {
  const sender = state.senderChain;
  const chain = sender?.chainKey;
  if (sender === undefined || chain === undefined || state.pqRatchet === undefined) throw new Error("no sending state");
  const honest = spqrSend(state.pqRatchet);
  const parsed = parseSpqrMessage(honest.message);
  const keys = messageKeys(chainStep(chain.key).seed, honest.key);
  const body = encodeSignalMessageBody({
    ratchetKey: sender.ratchetPublicKey,
    counter: chain.index,
    previousCounter: state.previousCounter,
    ciphertext: aes256CbcEncrypt(keys.cipherKey, keys.iv, utf8("a lie")),
    pqRatchet: lie(parsed.epoch, parsed.index),
  });
  return { type: 2, body: concatBytes(body, computeMac(keys.macKey, state.localIdentityKey, state.remoteIdentityKey, body)) };
}

describe("a peer that lies in validly authenticated messages (spec PQ-17, DR-13)", () => {
  it("wrong-role Braid data, a future epoch and a forged header are refused and change no store", async () => {
    const alice = await OurParty.create();
    const bob = await OurParty.create();
    await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
    await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("hello")));
    await alice.decrypt(bob.address, await bob.encrypt(alice.address, utf8("hi")));
    const state = (await alice.store.loadSession(bob.address))?.current;
    if (state === undefined) throw new Error("no session");
    const chunk = { index: 7, data: new Uint8Array(32).fill(1) };
    const lies: Array<["invalid_message", CiphertextMessage]> = [
      // Alice sends the key in epoch 1: ct1 is Bob's to send.
      ["invalid_message", lyingMessage(state, (epoch, index) => encodeSpqrMessage({ epoch, index, type: SpqrType.Ct1, chunk }))],
      ["invalid_message", lyingMessage(state, (epoch, index) => encodeSpqrMessage({ epoch: epoch + 2, index, type: SpqrType.None }))],
      // Ct2 is Bob's to send too.
      ["invalid_message", lyingMessage(state, (epoch, index) => encodeSpqrMessage({ epoch, index, type: SpqrType.Ct2, chunk }))],
    ];
    for (const [code, lie] of lies) {
      const before = bob.store.snapshot();
      await expect(bob.decrypt(alice.address, lie)).rejects.toSatisfy((e: unknown) => isProtocolError(e, code));
      expect(bob.store.snapshot()).toEqual(before);
    }
    // A forged header: Bob holds Alice's honest chunks 0 and 1 of the header ‖ MAC; chunk 2
    // replaced by the liar completes a header whose MAC does not verify.
    await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("second header chunk")));
    const later = (await alice.store.loadSession(bob.address))?.current;
    if (later === undefined) throw new Error("no session");
    const forgedHeader = lyingMessage(later, (epoch, index) =>
      encodeSpqrMessage({ epoch, index, type: SpqrType.Hdr, chunk: { index: 2, data: new Uint8Array(32).fill(5) } }),
    );
    const before = bob.store.snapshot();
    await expect(bob.decrypt(alice.address, forgedHeader)).rejects.toSatisfy((e: unknown) => isProtocolError(e, "bad_mac"));
    expect(bob.store.snapshot()).toEqual(before);
    // The honest conversation goes on.
    expect(new TextDecoder().decode(await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("still here"))))).toBe("still here");
  });
});

describe("sessions stored before phase 2 (spec PQ-05..PQ-08)", () => {
  it("a phase-1 state keeps interoperating with libsignal in epoch 1, both setups", async () => {
    for (const weInitiate of [true, false]) {
      const us = await OurParty.create();
      const them = new LibsignalParty();
      if (weInitiate) await us.builder.processPreKeyBundle(them.address, them.bundle());
      else {
        await them.processBundle(us.address, await us.bundle(1));
        await us.decrypt(them.address, await them.encrypt(us.address, utf8("message 0")));
      }
      // Rewrite our state as phase 1 stored it: the same epoch-0 chains, no Braid.
      const record = await us.store.loadSession(them.address);
      const current = record?.current;
      const link = current?.pqRatchet?.braid?.links[0];
      if (record === undefined || current === undefined || link === undefined || current.pqRatchet === undefined) throw new Error("no session");
      const phase1 = create(PqRatchetStateSchema, {
        isInitiator: current.pqRatchet.isInitiator,
        sendChainKey: link.sendChainKey,
        sendCounter: link.sendCounter,
        receiveChainKey: link.receiveChainKey,
        receiveCounter: link.receiveCounter,
        skippedKeys: link.skippedKeys,
        epoch: 0n,
      });
      await us.store.storeSession(them.address, create(SessionRecordSchema, { ...record, current: { ...current, pqRatchet: phase1 } }));
      const out = await converse(us, them, { ...shapes[0], total: 300 } as Shape, 7);
      expect(out.delivered + out.dropped).toBe(300);
      expect(out.maxEpoch.get(us)).toBe(1);
      expect(out.maxEpoch.get(them)).toBe(1);
      expect((await us.store.loadSession(them.address))?.current?.pqRatchet?.braid).toBeUndefined();
    }
  }, 60_000);
});
