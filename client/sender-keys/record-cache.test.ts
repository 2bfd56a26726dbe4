import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { bytesToHex } from "../crypto/bytes.js";
import { PrivateKey } from "../crypto/curve.js";
import { isProtocolError } from "../errors.js";
import { chainStep, messageKeysFromSeed } from "./chain.js";
import { aes256CbcEncrypt } from "../crypto/cipher.js";
import {
  createDistributionId,
  createSenderKeyDistributionMessage,
  groupDecrypt,
  groupEncrypt,
  processSenderKeyDistributionMessage,
} from "./group-cipher.js";
import { encodeSenderKeyDistribution, encodeSenderKeyMessage } from "./messages.js";
import { clearSenderKeyRecordCache, RECORD_CACHE_ENTRIES_PER_KEY } from "./record-cache.js";
import { currentSenderKeyState, parseSenderKeyRecord, takeSendingSeed } from "./sender-key-state.js";
import { InMemorySenderKeyStore, type SenderKeyStore } from "./sender-key-store.js";
import { codeOf } from "../errors.test-support.js";

const ALICE = "alice-address";


async function snapshot(store: SenderKeyStore, distributionId: Uint8Array): Promise<string> {
  const r = await store.loadSenderKey(ALICE, distributionId);
  return r === null ? "none" : bytesToHex(r);
}

async function pair() {
  const aliceStore = new InMemorySenderKeyStore();
  const bobStore = new InMemorySenderKeyStore();
  const distributionId = createDistributionId();
  await processSenderKeyDistributionMessage(bobStore, ALICE, await createSenderKeyDistributionMessage(aliceStore, ALICE, distributionId));
  return { aliceStore, bobStore, distributionId };
}

/**
 * What a lying member holding the sender key can send: a correctly signed message at Alice's
 * next iteration whose ciphertext decrypts to a block with invalid padding (a zero last byte).
 * Alice's store advances, as if she had sent it.
 */
async function signedBadPadding(aliceStore: SenderKeyStore, distributionId: Uint8Array): Promise<Uint8Array> {
  const record = parseSenderKeyRecord((await aliceStore.loadSenderKey(ALICE, distributionId)) as Uint8Array);
  const state = currentSenderKeyState(record);
  if (state === undefined) throw new Error("no state");
  const { iteration, seed } = takeSendingSeed(state);
  const { iv, cipherKey } = messageKeysFromSeed(seed);
  const raw = createCipheriv("aes-256-cbc", cipherKey, iv).setAutoPadding(false);
  const ciphertext = new Uint8Array(raw.update(new Uint8Array(16)));
  const { serializeSenderKeyRecord } = await import("./sender-key-state.js");
  await aliceStore.storeSenderKey(ALICE, distributionId, serializeSenderKeyRecord(record));
  return encodeSenderKeyMessage(
    { distributionId, chainId: state.chainId, iteration, ciphertext },
    PrivateKey.deserialize(state.signingPrivateKey),
  );
}

afterEach(() => clearSenderKeyRecordCache());

describe("remembered sender-key records (record-cache.ts) change nothing on failure (SK-07)", () => {
  it("a validly signed message with bad padding is refused and the remembered record does not advance", async () => {
    const { aliceStore, bobStore, distributionId } = await pair();
    const text = (i: number) => new Uint8Array(40).fill(i);
    const early = [await groupEncrypt(aliceStore, ALICE, distributionId, text(0)), await groupEncrypt(aliceStore, ALICE, distributionId, text(1))];
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, early[0] as Uint8Array))).toBe(bytesToHex(text(0)));
    const lie = await signedBadPadding(aliceStore, distributionId); // iteration 2
    const later = [await groupEncrypt(aliceStore, ALICE, distributionId, text(3)), await groupEncrypt(aliceStore, ALICE, distributionId, text(4))];
    const before = await snapshot(bobStore, distributionId);
    // Twice: the second attempt is answered from the remembered record, which must not have
    // been advanced (or lost its skipped seeds) by the first.
    expect(await codeOf(groupDecrypt(bobStore, ALICE, lie))).toBe("invalid_ciphertext");
    expect(await codeOf(groupDecrypt(bobStore, ALICE, lie))).toBe("invalid_ciphertext");
    expect(await snapshot(bobStore, distributionId)).toBe(before);
    // Everything genuine still decrypts exactly once, out of order.
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, later[1] as Uint8Array))).toBe(bytesToHex(text(4)));
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, early[1] as Uint8Array))).toBe(bytesToHex(text(1)));
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, later[0] as Uint8Array))).toBe(bytesToHex(text(3)));
    for (const m of [...early, ...later]) expect(await codeOf(groupDecrypt(bobStore, ALICE, m))).toBe("duplicate_message");
    // The lie's iteration was skipped (seed kept): still refused for its padding, not replayable.
    expect(await codeOf(groupDecrypt(bobStore, ALICE, lie))).toBe("invalid_ciphertext");
  });

  it("a forged signature after a valid message with the same key is refused; the genuine message then decrypts", async () => {
    const { aliceStore, bobStore, distributionId } = await pair();
    const first = await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(16).fill(1));
    const second = await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(16).fill(2));
    await groupDecrypt(bobStore, ALICE, first);
    const before = await snapshot(bobStore, distributionId);
    // The signature's first and last byte, and a ciphertext byte (covered by the signature).
    for (const at of [second.length - 64, second.length - 1, second.length - 70]) {
      const forged = Uint8Array.from(second);
      forged[at] = (forged[at] as number) ^ 0x01;
      expect(await codeOf(groupDecrypt(bobStore, ALICE, forged))).toBe("invalid_signature");
      expect(await snapshot(bobStore, distributionId)).toBe(before);
    }
    // The same forgery re-signed with another key is refused too.
    const other = PrivateKey.generateSigningKey();
    const body = second.subarray(0, second.length - 64);
    const resigned = new Uint8Array([...body, ...other.sign(body)]);
    expect(await codeOf(groupDecrypt(bobStore, ALICE, resigned))).toBe("invalid_signature");
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, second))).toBe(bytesToHex(new Uint8Array(16).fill(2)));
  });

  it("a chain whose signing key was replaced (same chain id, another key) refuses the old key's signatures, though that key verified just before", async () => {
    const { aliceStore, bobStore, distributionId } = await pair();
    const before = [await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(16).fill(1))];
    const after = await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(16).fill(2));
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, before[0] as Uint8Array))).toBe(bytesToHex(new Uint8Array(16).fill(1)));
    // Someone hands Bob an SKDM for Alice's chain id with another signing key and chain key:
    // the state is replaced (SK-08), so Alice's old key no longer speaks for that chain.
    const chainId = currentSenderKeyState(parseSenderKeyRecord((await aliceStore.loadSenderKey(ALICE, distributionId)) as Uint8Array))?.chainId as number;
    const other = PrivateKey.generateSigningKey();
    const chainKey = new Uint8Array(32).fill(7);
    await processSenderKeyDistributionMessage(
      bobStore,
      ALICE,
      encodeSenderKeyDistribution({ distributionId, chainId, iteration: 0, chainKey, signingKey: other.getPublicKey() }),
    );
    const replaced = await snapshot(bobStore, distributionId);
    expect(await codeOf(groupDecrypt(bobStore, ALICE, after))).toBe("invalid_signature");
    expect(await snapshot(bobStore, distributionId)).toBe(replaced);
    // The new key's messages on that chain decrypt.
    const { iv, cipherKey } = messageKeysFromSeed(chainStep(chainKey).seed);
    const ciphertext = aes256CbcEncrypt(cipherKey, iv, new Uint8Array(16).fill(3));
    const fromNewKey = encodeSenderKeyMessage({ distributionId, chainId, iteration: 0, ciphertext }, other);
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, fromNewKey))).toBe(bytesToHex(new Uint8Array(16).fill(3)));
  });

  it("a replayed message after a successful decryption is duplicate_message, also with the cache emptied", async () => {
    const { aliceStore, bobStore, distributionId } = await pair();
    const m = await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(16));
    await groupDecrypt(bobStore, ALICE, m);
    expect(await codeOf(groupDecrypt(bobStore, ALICE, m))).toBe("duplicate_message");
    clearSenderKeyRecordCache();
    expect(await codeOf(groupDecrypt(bobStore, ALICE, m))).toBe("duplicate_message");
  });

  it("answers for the exact stored bytes only: a store rolled back to older bytes is read as those bytes", async () => {
    const { aliceStore, bobStore, distributionId } = await pair();
    const messages = [];
    for (let i = 0; i < 3; i++) messages.push(await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(16).fill(i)));
    await groupDecrypt(bobStore, ALICE, messages[0] as Uint8Array);
    const old = await bobStore.loadSenderKey(ALICE, distributionId);
    await groupDecrypt(bobStore, ALICE, messages[1] as Uint8Array);
    expect(await codeOf(groupDecrypt(bobStore, ALICE, messages[1] as Uint8Array))).toBe("duplicate_message");
    await bobStore.storeSenderKey(ALICE, distributionId, old as Uint8Array);
    expect(bytesToHex(await groupDecrypt(bobStore, ALICE, messages[1] as Uint8Array))).toBe(bytesToHex(new Uint8Array(16).fill(1)));
    // A corrupt record is refused whatever was remembered for the key.
    await bobStore.storeSenderKey(ALICE, distributionId, Uint8Array.of(0x0a, 0x05, 0x01));
    expect(await codeOf(groupDecrypt(bobStore, ALICE, messages[2] as Uint8Array))).toBe("invalid_message");
  });

  it("with and without remembered records, any interleaving gives the same plaintexts, errors and stored bytes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ op: fc.constantFrom("send", "deliver", "replay", "flip"), pick: fc.nat(), bit: fc.nat() }), { minLength: 1, maxLength: 25 }),
        async (ops) => {
          const { aliceStore, bobStore, distributionId } = await pair();
          // Bob's twin reads the same messages with the cache emptied before every call.
          const twinStore = new InMemorySenderKeyStore();
          await twinStore.storeSenderKey(ALICE, distributionId, (await bobStore.loadSenderKey(ALICE, distributionId)) as Uint8Array);
          const sent: Uint8Array[] = [];
          for (const { op, pick, bit } of ops) {
            if (op === "send" || sent.length === 0) {
              sent.push(await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(16 + (pick % 40)).fill(sent.length)));
              continue;
            }
            let m = sent[pick % sent.length] as Uint8Array;
            if (op === "flip") {
              m = Uint8Array.from(m);
              m[bit % m.length] = (m[bit % m.length] as number) ^ (1 << (bit % 8));
            }
            const cached = await groupDecrypt(bobStore, ALICE, m).then(bytesToHex, (e) => (isProtocolError(e) ? e.code : "other"));
            clearSenderKeyRecordCache();
            const uncached = await groupDecrypt(twinStore, ALICE, m).then(bytesToHex, (e) => (isProtocolError(e) ? e.code : "other"));
            clearSenderKeyRecordCache();
            expect(cached).toBe(uncached);
            expect(await snapshot(bobStore, distributionId)).toBe(await snapshot(twinStore, distributionId));
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it(`keeps several stores' records for one (sender, distribution id) apart (${RECORD_CACHE_ENTRIES_PER_KEY} per key)`, async () => {
    const aliceStore = new InMemorySenderKeyStore();
    const distributionId = createDistributionId();
    const skdm = await createSenderKeyDistributionMessage(aliceStore, ALICE, distributionId);
    const receivers = [new InMemorySenderKeyStore(), new InMemorySenderKeyStore(), new InMemorySenderKeyStore()];
    for (const r of receivers) await processSenderKeyDistributionMessage(r, ALICE, skdm);
    const messages = [];
    for (let i = 0; i < 4; i++) messages.push(await groupEncrypt(aliceStore, ALICE, distributionId, new Uint8Array(16).fill(i)));
    // Each receiver at its own position: every one decrypts every message exactly once.
    for (let i = 0; i < 4; i++) {
      for (const [j, r] of receivers.entries()) {
        const m = messages[(i + j) % 4] as Uint8Array;
        expect(bytesToHex(await groupDecrypt(r, ALICE, m))).toBe(bytesToHex(new Uint8Array(16).fill((i + j) % 4)));
      }
    }
    for (const r of receivers) for (const m of messages) expect(await codeOf(groupDecrypt(r, ALICE, m))).toBe("duplicate_message");
  });
});
