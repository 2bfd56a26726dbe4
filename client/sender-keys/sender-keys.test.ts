import * as libsignal from "@signalapp/libsignal-client";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes, utf8 } from "../crypto/bytes.js";
import {
  createDistributionId,
  createSenderKeyDistributionMessage,
  groupDecrypt,
  groupEncrypt,
  processSenderKeyDistributionMessage,
  senderKeyMessageDistributionId,
} from "./group-cipher.js";
import { decodeSenderKeyDistribution, decodeSenderKeyMessage } from "./messages.js";
import { nextChainKey } from "./chain.js";
import { addSenderKeyState, emptySenderKeyRecord, parseSenderKeyRecord, serializeSenderKeyRecord } from "./sender-key-state.js";
import { InMemorySenderKeyStore, type SenderKeyStore } from "./sender-key-store.js";
import { codeOf } from "../errors.test-support.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** libsignal's abstract store, in memory. */
class LibsignalSenderKeyStore extends libsignal.SenderKeyStore {
  readonly records = new Map<string, libsignal.SenderKeyRecord>();
  async saveSenderKey(sender: libsignal.ProtocolAddress, distributionId: string, record: libsignal.SenderKeyRecord): Promise<void> {
    this.records.set(`${sender.toString()}/${distributionId}`, record);
  }
  async getSenderKey(sender: libsignal.ProtocolAddress, distributionId: string): Promise<libsignal.SenderKeyRecord | null> {
    return this.records.get(`${sender.toString()}/${distributionId}`) ?? null;
  }
}

/** A v4-shaped UUID (libsignal's API takes distribution ids as UUID strings). */
function uuidPair(): { text: string; bytes: Uint8Array } {
  const text = crypto.randomUUID();
  return { text, bytes: hexToBytes(text.replaceAll("-", "")) };
}


async function snapshot(store: SenderKeyStore, sender: string, distributionId: Uint8Array): Promise<string> {
  const r = await store.loadSenderKey(sender, distributionId);
  return r === null ? "none" : bytesToHex(r);
}

const ALICE = "alice-address";

/** Bytes of a protobuf varint for `n` (the chain id is random, so message sizes vary by it). */
function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

async function ourPair() {
  const aliceStore = new InMemorySenderKeyStore();
  const bobStore = new InMemorySenderKeyStore();
  const distributionId = createDistributionId();
  const skdm = await createSenderKeyDistributionMessage(aliceStore, ALICE, distributionId);
  await processSenderKeyDistributionMessage(bobStore, ALICE, skdm);
  return { aliceStore, bobStore, distributionId, skdm };
}

describe("sender keys (spec/07-sender-keys.md)", () => {
  it("SK-07: out-of-order delivery within limits decrypts every message exactly once (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 25 }).chain((n) => fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }))), async ([n, order]) => {
        const { aliceStore, bobStore, distributionId } = await ourPair();
        const messages: Uint8Array[] = [];
        for (let i = 0; i < n; i++) messages.push(await groupEncrypt(aliceStore, ALICE, distributionId, utf8(`message ${i}`)));
        for (const i of order) {
          const pt = await groupDecrypt(bobStore, ALICE, messages[i] as Uint8Array);
          expect(new TextDecoder().decode(pt)).toBe(`message ${i}`);
        }
        for (const i of order.slice(0, 3)) {
          const before = await snapshot(bobStore, ALICE, distributionId);
          expect(await codeOf(groupDecrypt(bobStore, ALICE, messages[i] as Uint8Array))).toBe("duplicate_message");
          expect(await snapshot(bobStore, ALICE, distributionId)).toBe(before);
        }
      }),
      { numRuns: 25 },
    );
  });

  it("SK-07: any bit flip gives a typed error and leaves the store unchanged (property)", async () => {
    const { aliceStore, bobStore, distributionId } = await ourPair();
    const message = await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(100).fill(7));
    await fc.assert(
      fc.asyncProperty(fc.nat(message.length * 8 - 1), async (bit) => {
        const bad = Uint8Array.from(message);
        bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
        const before = await snapshot(bobStore, ALICE, distributionId);
        const code = await codeOf(groupDecrypt(bobStore, ALICE, bad));
        expect(["invalid_signature", "invalid_message", "invalid_version", "no_sender_key", "counter_too_large", "duplicate_message"]).toContain(code);
        expect(await snapshot(bobStore, ALICE, distributionId)).toBe(before);
      }),
      { numRuns: 150 },
    );
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, message))).toBe(bytesToHex(new Uint8Array(100).fill(7)));
  });

  it("SK-05: a 256-byte plaintext gives a 366-byte message with the 0x33 version byte", async () => {
    const { aliceStore, distributionId } = await ourPair();
    const m = await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(256));
    // 366 bytes when the random 31-bit chain id needs a 5-byte varint (libsignal's usual case).
    expect(m.length).toBe(366 - (5 - varintLength(decodeSenderKeyMessage(m).chainId)));
    expect(m[0]).toBe(0x33);
    expect(bytesToHex(senderKeyMessageDistributionId(m))).toBe(bytesToHex(distributionId));
  });

  it("SK-07/SK-12: jumps up to 25,000 ahead decrypt, further is counter_too_large; only 2,000 skipped seeds are kept", async () => {
    const { aliceStore, bobStore, distributionId, skdm } = await ourPair();
    const d = decodeSenderKeyDistribution(skdm);
    const aliceState = parseSenderKeyRecord((await aliceStore.loadSenderKey(ALICE, distributionId)) as Uint8Array).states[0]!;
    // Alice's message at iteration n, made by placing her chain at n (stepping the chain key is
    // cheap; encrypting 25,000 signed messages one by one is not).
    const chainKeys = [d.chainKey];
    for (let i = 1; i <= 25_001; i++) chainKeys.push(nextChainKey(chainKeys[i - 1] as Uint8Array));
    const at = async (n: number): Promise<Uint8Array> => {
      const store = new InMemorySenderKeyStore();
      const record = emptySenderKeyRecord();
      addSenderKeyState(record, { chainId: d.chainId, iteration: n, chainKey: chainKeys[n] as Uint8Array, signingKey: d.signingKey, signingPrivateKey: aliceState.signingPrivateKey });
      await store.storeSenderKey(ALICE, distributionId, serializeSenderKeyRecord(record));
      const m = await groupEncrypt(store, ALICE, distributionId, utf8(String(n)));
      expect(decodeSenderKeyMessage(m).iteration).toBe(n);
      return m;
    };
    const text = async (m: Uint8Array) => new TextDecoder().decode(await groupDecrypt(bobStore, ALICE, m));
    // Iteration 25,001 is 25,001 ahead of Bob's chain (iteration 0): too far, nothing stored.
    const before = await snapshot(bobStore, ALICE, distributionId);
    expect(await codeOf(groupDecrypt(bobStore, ALICE, await at(25_001)))).toBe("counter_too_large");
    expect(await snapshot(bobStore, ALICE, distributionId)).toBe(before);
    // Iteration 25,000 is exactly the limit.
    expect(await text(await at(25_000))).toBe("25000");
    const record = parseSenderKeyRecord((await bobStore.loadSenderKey(ALICE, distributionId)) as Uint8Array);
    expect(record.states[0]?.skippedKeys.length).toBe(2000);
    // Seeds 23,000..24,999 are kept; 22,999 and 0 were discarded, so they count as duplicates.
    expect(await text(await at(23_000))).toBe("23000");
    expect(await text(await at(24_999))).toBe("24999");
    expect(await codeOf(groupDecrypt(bobStore, ALICE, await at(22_999)))).toBe("duplicate_message");
    expect(await codeOf(groupDecrypt(bobStore, ALICE, await at(0)))).toBe("duplicate_message");
    expect(await text(await at(25_001))).toBe("25001");
  });

  it("SK-08/SK-09: at most 5 states per record; an old chain's messages still decrypt while it is kept", async () => {
    const bobStore = new InMemorySenderKeyStore();
    const distributionId = createDistributionId();
    const senders: { store: InMemorySenderKeyStore; first: Uint8Array }[] = [];
    for (let i = 0; i < 6; i++) {
      // Six independent chains under one (sender, distribution id), as after rotations.
      const store = new InMemorySenderKeyStore();
      await processSenderKeyDistributionMessage(bobStore, ALICE, await createSenderKeyDistributionMessage(store, ALICE, distributionId));
      senders.push({ store, first: await groupEncrypt(store, ALICE, distributionId, utf8(`chain ${i}`)) });
    }
    const record = parseSenderKeyRecord((await bobStore.loadSenderKey(ALICE, distributionId)) as Uint8Array);
    expect(record.states.length).toBe(5);
    expect(await codeOf(groupDecrypt(bobStore, ALICE, senders[0]!.first))).toBe("no_sender_key");
    for (let i = 1; i < 6; i++) expect(new TextDecoder().decode(await groupDecrypt(bobStore, ALICE, senders[i]!.first))).toBe(`chain ${i}`);
  });

  it("SK-08: re-processing the same SKDM keeps the further-along state", async () => {
    const { aliceStore, bobStore, distributionId, skdm } = await ourPair();
    const m0 = await groupEncrypt(aliceStore, ALICE, distributionId, utf8("zero"));
    await groupDecrypt(bobStore, ALICE, m0);
    await processSenderKeyDistributionMessage(bobStore, ALICE, skdm);
    expect(await codeOf(groupDecrypt(bobStore, ALICE, m0))).toBe("duplicate_message");
  });

  it("errors: unknown sender or distribution is no_sender_key; bad version; encrypting without a key", async () => {
    const { aliceStore, distributionId } = await ourPair();
    const m = await groupEncrypt(aliceStore, ALICE, distributionId, utf8("x"));
    expect(await codeOf(groupDecrypt(new InMemorySenderKeyStore(), ALICE, m))).toBe("no_sender_key");
    const v = Uint8Array.from(m);
    v[0] = 0x32;
    expect(await codeOf(groupDecrypt(new InMemorySenderKeyStore(), ALICE, v))).toBe("invalid_version");
    expect(await codeOf(groupDecrypt(new InMemorySenderKeyStore(), ALICE, m.subarray(0, 60)))).toBe("invalid_message");
    expect(await codeOf(groupEncrypt(new InMemorySenderKeyStore(), ALICE, distributionId, utf8("x")))).toBe("no_sender_key");
    expect(await codeOf(processSenderKeyDistributionMessage(new InMemorySenderKeyStore(), ALICE, new Uint8Array([0x33, 0xff])))).toBe("invalid_message");
  });
});

describe("sender keys differential against libsignal", () => {
  it("libsignal sender → our receiver, with skipped iterations and reordering", async () => {
    const lStore = new LibsignalSenderKeyStore();
    const lAddr = libsignal.ProtocolAddress.new("alice", 1);
    const dist = uuidPair();
    const skdm = await libsignal.SenderKeyDistributionMessage.create(lAddr, dist.text, lStore);
    const ours = new InMemorySenderKeyStore();
    const processed = await processSenderKeyDistributionMessage(ours, "alice", skdm.serialize());
    expect(bytesToHex(processed.distributionId)).toBe(bytesToHex(dist.bytes));
    expect(decodeSenderKeyDistribution(skdm.serialize()).chainId).toBe(skdm.chainId());
    const msgs: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      msgs.push((await libsignal.groupEncrypt(lAddr, dist.text, lStore, ab(utf8(`m${i}`)))).serialize());
    }
    const m0 = decodeSenderKeyMessage(msgs[0] as Uint8Array);
    expect(m0.iteration).toBe(0);
    const order = [39, 5, 0, 20, 38, 1, 2, 3, 37, 4, ...Array.from({ length: 30 }, (_, i) => i + 6).filter((i) => i !== 20)];
    for (const i of order) expect(new TextDecoder().decode(await groupDecrypt(ours, "alice", msgs[i] as Uint8Array))).toBe(`m${i}`);
    expect(await codeOf(groupDecrypt(ours, "alice", msgs[7] as Uint8Array))).toBe("duplicate_message");
  });

  it("our sender → libsignal receiver, with skipped iterations and reordering; sizes equal libsignal's", async () => {
    const ours = new InMemorySenderKeyStore();
    const dist = uuidPair();
    const skdm = await createSenderKeyDistributionMessage(ours, "alice", dist.bytes);
    const lStore = new LibsignalSenderKeyStore();
    const lAddr = libsignal.ProtocolAddress.new("alice", 1);
    await libsignal.processSenderKeyDistributionMessage(lAddr, libsignal.SenderKeyDistributionMessage.deserialize(ab(skdm)), lStore);
    const msgs: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) msgs.push(await groupEncrypt(ours, "alice", dist.bytes, utf8(`m${i}`)));
    const order = [3, 0, 39, 1, 2, 38, ...Array.from({ length: 36 }, (_, i) => i + 4).filter((i) => i !== 38 && i !== 39), 37];
    const seen = new Set<number>();
    for (const i of order) {
      if (seen.has(i)) continue;
      seen.add(i);
      const pt = await libsignal.groupDecrypt(lAddr, lStore, ab(msgs[i] as Uint8Array));
      expect(new TextDecoder().decode(pt)).toBe(`m${i}`);
    }
    await expect(libsignal.groupDecrypt(lAddr, lStore, ab(msgs[5] as Uint8Array))).rejects.toThrow();
    // Same length as libsignal's own message for the same plaintext length.
    const lSender = new LibsignalSenderKeyStore();
    await libsignal.SenderKeyDistributionMessage.create(lAddr, dist.text, lSender);
    const theirs = await libsignal.groupEncrypt(lAddr, dist.text, lSender, ab(new Uint8Array(256)));
    const mine = await groupEncrypt(ours, "alice", dist.bytes, new Uint8Array(256));
    const theirBytes = theirs.serialize();
    expect(mine.length - varintLength(decodeSenderKeyMessage(mine).chainId)).toBe(
      theirBytes.length - varintLength(decodeSenderKeyMessage(theirBytes).chainId),
    );
  });
});
