/**
 * Pinned vectors spec/vectors/pqxdh.json and spec/vectors/ratchet.json: our implementation
 * reproduces every byte from the fixed inputs, and every value is cross-checked against
 * libsignal-client 0.103 (its PrivateKey.agree, hkdf and session decryption) and node:crypto.
 */
import { createDecipheriv, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import * as ls from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { be32, concatBytes, utf8 } from "../crypto/bytes.js";
import { parsePreKeySignalMessage, parseSignalMessage } from "../ratchet/signal-message.js";
import {
  ab,
  LsIdentityStore,
  LsKyberPreKeyStore,
  LsPreKeyStore,
  LsSessionStore,
  LsSignedPreKeyStore,
} from "./parties.test-support.js";
import {
  type ConversationInputs,
  type ConversationOutputs,
  hex,
  type PqxdhInputs,
  type PqxdhOutputs,
  runConversation,
  runPqxdh,
  unhex,
} from "./vector-scenario.test-support.js";

interface PqxdhFile {
  libsignalKyberPreKeyRecord: string;
  cases: Array<{ name: string; inputs: PqxdhInputs; outputs: PqxdhOutputs }>;
}
interface RatchetFile {
  inputs: ConversationInputs;
  outputs: ConversationOutputs;
}

const pqxdh = JSON.parse(readFileSync(new URL("../../spec/vectors/pqxdh.json", import.meta.url), "utf8")) as PqxdhFile;
const ratchet = JSON.parse(readFileSync(new URL("../../spec/vectors/ratchet.json", import.meta.url), "utf8")) as RatchetFile;

const lsPriv = (h: string) => ls.PrivateKey.deserialize(ab(unhex(h)));
const lsPub = (h: string) => ls.PublicKey.deserialize(ab(unhex(h)));
const lsHkdf = (length: number, ikm: Uint8Array, info: string | Uint8Array, salt: Uint8Array | null) =>
  ls.hkdf(length, ab(ikm), ab(typeof info === "string" ? utf8(info) : info), salt === null ? null : ab(salt));
const hmac = (key: Uint8Array, data: Uint8Array) => new Uint8Array(createHmac("sha256", key).update(data).digest());
const ZERO32 = new Uint8Array(32);

describe("spec/vectors/pqxdh.json (PX-04..PX-06)", () => {
  for (const c of pqxdh.cases) {
    it(`PX-06 our PQXDH reproduces the pinned values: ${c.name}`, async () => {
      expect(await runPqxdh(c.inputs)).toEqual(c.outputs);
    });

    it(`PX-04, PX-06 libsignal's agree and hkdf give the same DH values and output: ${c.name}`, () => {
      const i = c.inputs;
      const o = c.outputs;
      expect(hex(lsPriv(i.aliceIdentityPrivate).getPublicKey().serialize())).toBe(o.aliceIdentityPublic);
      expect(hex(lsPriv(i.bobIdentityPrivate).getPublicKey().serialize())).toBe(o.bobIdentityPublic);
      expect(hex(lsPriv(i.baseKeyPrivate).getPublicKey().serialize())).toBe(o.baseKey);
      const dh = [
        lsPriv(i.aliceIdentityPrivate).agree(lsPub(o.bobSignedPreKeyPublic)),
        lsPriv(i.baseKeyPrivate).agree(lsPub(o.bobIdentityPublic)),
        lsPriv(i.baseKeyPrivate).agree(lsPub(o.bobSignedPreKeyPublic)),
        ...(o.bobOneTimePreKeyPublic === undefined ? [] : [lsPriv(i.baseKeyPrivate).agree(lsPub(o.bobOneTimePreKeyPublic))]),
      ];
      expect(dh.map(hex)).toEqual(o.dh);
      const ikm = concatBytes(new Uint8Array(32).fill(0xff), ...dh, unhex(o.kyberSharedSecret));
      expect(hex(ikm)).toBe(o.ikm);
      const out = lsHkdf(96, ikm, "WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024", null);
      expect([hex(out.subarray(0, 32)), hex(out.subarray(32, 64)), hex(out.subarray(64))]).toEqual([o.rootKey, o.chainKey, o.pqAuthKey]);
      expect(o.kyberCiphertext.length).toBe(1569 * 2);
    });
  }
});

describe("spec/vectors/ratchet.json (DR-01..DR-11, PQ-01..PQ-04, PX-08)", () => {
  const inputs = ratchet.inputs;
  const outputs = ratchet.outputs;
  const pq = pqxdh.cases.find((c) => c.inputs.bobOneTimePreKeyPrivate !== undefined);
  if (pq === undefined) throw new Error("pqxdh.json lacks the one-time prekey case");

  it("DR-06, PX-08 our implementation reproduces every pinned byte", async () => {
    expect(await runConversation(inputs)).toEqual(outputs);
  });

  it("PX-08, PX-09 libsignal loaded with Bob's keys decrypts the pinned PreKeySignalMessages m0 and m1", async () => {
    const p = inputs.pqxdh;
    const bobPriv = lsPriv(p.bobIdentityPrivate);
    const bob = new ls.IdentityKeyPair(bobPriv.getPublicKey(), bobPriv);
    const identities = new LsIdentityStore(bob, inputs.bobRegistrationId);
    const sessions = new LsSessionStore();
    const preKeys = new LsPreKeyStore();
    const signedPreKeys = new LsSignedPreKeyStore();
    const kyberPreKeys = new LsKyberPreKeyStore();
    const oneTime = lsPriv(p.bobOneTimePreKeyPrivate as string);
    preKeys.map.set(inputs.preKeyId, ls.PreKeyRecord.new(inputs.preKeyId, oneTime.getPublicKey(), oneTime));
    const signed = lsPriv(p.bobSignedPreKeyPrivate);
    signedPreKeys.map.set(
      inputs.signedPreKeyId,
      ls.SignedPreKeyRecord.new(inputs.signedPreKeyId, 0, signed.getPublicKey(), signed, bobPriv.sign(signed.getPublicKey().serialize())),
    );
    const kyber = ls.KyberPreKeyRecord.deserialize(ab(unhex(pqxdh.libsignalKyberPreKeyRecord)));
    expect(kyber.id()).toBe(inputs.kyberPreKeyId);
    expect(hex(kyber.publicKey().serialize())).toBe(p.bobKyberPublicKey);
    kyberPreKeys.map.set(inputs.kyberPreKeyId, kyber);
    const alice = ls.ProtocolAddress.new("alice", 1);
    const bobAddress = ls.ProtocolAddress.new("bob", 1);
    for (const m of outputs.messages.slice(0, 2)) {
      expect(m.type).toBe(3);
      const message = ls.PreKeySignalMessage.deserialize(ab(unhex(m.body)));
      expect(message.registrationId()).toBe(inputs.aliceRegistrationId);
      const plaintext = await ls.signalDecryptPreKey(message, alice, bobAddress, sessions, identities, preKeys, signedPreKeys, kyberPreKeys);
      expect(hex(plaintext)).toBe(m.plaintext);
    }
    const parsed = parsePreKeySignalMessage(unhex(outputs.messages[0]?.body ?? ""));
    expect(hex(parsed.baseKey)).toBe(pq.outputs.baseKey);
    expect(hex(parsed.kyberCiphertext)).toBe(pq.outputs.kyberCiphertext);
  });

  it("DR-03..DR-05, DR-08, DR-11, PQ-01..PQ-04 every key of m0..m3 recomputed with libsignal's hkdf/agree and node:crypto", () => {
    const p = inputs.pqxdh;
    const o = pq.outputs;
    const rootStep = (root: Uint8Array, dh: Uint8Array) => {
      const out = lsHkdf(64, dh, "WhisperRatchet", root);
      return { root: out.subarray(0, 32), chain: out.subarray(32) };
    };
    const aliceRatchet0 = lsPriv(inputs.aliceRatchetKey0Private);
    const bobRatchet1 = lsPriv(inputs.bobRatchetKey1Private);
    const aliceRatchet2 = lsPriv(inputs.aliceRatchetKey2Private);
    const signed = lsPriv(p.bobSignedPreKeyPrivate);
    // DR-01: Alice's sending chain; DR-08: Bob's receiving chain on m0 is the same.
    const a0 = rootStep(unhex(o.rootKey), aliceRatchet0.agree(signed.getPublicKey()));
    expect(rootStep(unhex(o.rootKey), signed.agree(aliceRatchet0.getPublicKey()))).toEqual(a0);
    expect(hex(a0.root)).toBe(outputs.aliceRootKeyAfterInit);
    const b1 = rootStep(a0.root, bobRatchet1.agree(aliceRatchet0.getPublicKey()));
    expect(rootStep(a0.root, aliceRatchet0.agree(bobRatchet1.getPublicKey()))).toEqual(b1);
    const a2 = rootStep(b1.root, aliceRatchet2.agree(bobRatchet1.getPublicKey()));
    // DR-04: seeds along each chain.
    const seedAt = (chain: Uint8Array, index: number) => {
      let ck = chain;
      for (let i = 0; i < index; i++) ck = hmac(ck, Uint8Array.of(2));
      return hmac(ck, Uint8Array.of(1));
    };
    // PQ-01, PQ-02: SPQR chains and keys.
    const g = lsHkdf(96, unhex(o.pqAuthKey), "Signal PQ Ratchet V1 Chain  Start", ZERO32);
    expect([hex(g.subarray(32, 64)), hex(g.subarray(64))]).toEqual([outputs.spqrChainAToB, outputs.spqrChainBToA]);
    const spqrKey = (chain: Uint8Array, counter: number) => {
      let c = chain;
      let key = new Uint8Array(0);
      for (let i = 1; i <= counter; i++) {
        const out = lsHkdf(64, c, concatBytes(be32(i), utf8("Signal PQ Ratchet V1 Chain Next")), ZERO32);
        c = out.subarray(0, 32);
        key = out.subarray(32);
      }
      return key;
    };
    const expected = [
      { chain: a0.chain, index: 0, ratchet: aliceRatchet0, spqr: spqrKey(g.subarray(32, 64), 1), pqIndex: 1, prev: 0 },
      { chain: a0.chain, index: 1, ratchet: aliceRatchet0, spqr: spqrKey(g.subarray(32, 64), 2), pqIndex: 2, prev: 0 },
      { chain: b1.chain, index: 0, ratchet: bobRatchet1, spqr: spqrKey(g.subarray(64), 1), pqIndex: 1, prev: 0 },
      { chain: a2.chain, index: 0, ratchet: aliceRatchet2, spqr: spqrKey(g.subarray(32, 64), 3), pqIndex: 3, prev: 1 },
    ];
    expect(outputs.messages.length).toBe(4);
    outputs.messages.forEach((m, n) => {
      const e = expected[n];
      if (e === undefined) throw new Error("missing expectation");
      const seed = seedAt(e.chain, e.index);
      expect(m.messageSeed).toBe(hex(seed));
      expect(m.counter).toBe(e.index);
      expect(m.previousCounter).toBe(e.prev);
      expect(m.ratchetKey).toBe(hex(e.ratchet.getPublicKey().serialize()));
      expect(m.spqrKey).toBe(hex(e.spqr));
      // PQ-04: 0x01, epoch varint 1, index varint, payload type None.
      expect(m.pqRatchet).toBe(hex(Uint8Array.of(1, 1, e.pqIndex, 0)));
      // DR-05: message keys salted with the SPQR key.
      const keys = lsHkdf(80, seed, "WhisperMessageKeys", e.spqr);
      expect([m.cipherKey, m.macKey, m.iv]).toEqual([hex(keys.subarray(0, 32)), hex(keys.subarray(32, 64)), hex(keys.subarray(64))]);
      // DR-11: the MAC over sender identity ‖ receiver identity ‖ version ‖ protobuf.
      const bytes = unhex(m.signalMessage);
      const [sender, receiver] = m.from === "alice" ? [o.aliceIdentityPublic, o.bobIdentityPublic] : [o.bobIdentityPublic, o.aliceIdentityPublic];
      const mac = hmac(keys.subarray(32, 64), concatBytes(unhex(sender), unhex(receiver), bytes.subarray(0, bytes.length - 8)));
      expect(hex(bytes.subarray(bytes.length - 8))).toBe(hex(mac.subarray(0, 8)));
      // EN-08: AES-256-CBC with PKCS#7.
      const decipher = createDecipheriv("aes-256-cbc", keys.subarray(0, 32), keys.subarray(64));
      const ciphertext = parseSignalMessage(bytes).ciphertext;
      const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      expect(hex(plaintext)).toBe(m.plaintext);
      // libsignal parses the pinned SignalMessage and reads the same counter.
      expect(ls.SignalMessage.deserialize(ab(bytes)).counter()).toBe(e.index);
    });
  });
});
