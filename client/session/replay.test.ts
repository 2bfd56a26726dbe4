/**
 * Forward secrecy and replay (spec DR-09, DR-12..DR-14, PX-11, PX-12, ID-12): used message
 * keys are gone, duplicates and far jumps are refused without any state change, replayed
 * PreKey messages create no second session, and identity changes are refused until accepted.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChainKeySchema, SenderChainSchema, SessionStateSchema } from "../../gen/securecomm/storage/v1/session_pb.js";
import { utf8 } from "../crypto/bytes.js";
import { MAX_FORWARD_JUMPS } from "../ratchet/constants.js";
import { nextChainKey } from "../ratchet/kdf-chains.js";
import { ratchetEncrypt } from "../ratchet/ratchet-encrypt.js";
import { LibsignalParty, OurParty, TEST_NOW_MS } from "./parties.test-support.js";
import { MAX_UNACKNOWLEDGED_SESSION_AGE_MS, MESSAGE_TYPE_SIGNAL, SessionCipher } from "./session-cipher.js";
import { expectCode } from "../errors.test-support.js";


async function pair(): Promise<{ alice: OurParty; bob: OurParty }> {
  const alice = await OurParty.create();
  const bob = await OurParty.create();
  await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
  const first = await alice.encrypt(bob.address, utf8("hello"));
  await bob.decrypt(alice.address, first);
  await alice.decrypt(bob.address, await bob.encrypt(alice.address, utf8("hi")));
  return { alice, bob };
}

describe("forward secrecy and replay", () => {
  it("DR-14: a decrypted message cannot be decrypted again, and nothing changes", async () => {
    const { alice, bob } = await pair();
    const m = await alice.encrypt(bob.address, utf8("once"));
    expect(m.type).toBe(MESSAGE_TYPE_SIGNAL);
    expect(await bob.decrypt(alice.address, m)).toEqual(utf8("once"));
    const before = bob.store.snapshot();
    await expectCode(bob.decrypt(alice.address, m), "duplicate_message");
    expect(bob.store.snapshot()).toEqual(before);
  });

  it("DR-09, DR-12: a skipped key is kept until its message arrives, then gone from the record", async () => {
    const { alice, bob } = await pair();
    const messages = [];
    for (let i = 0; i < 4; i++) messages.push(await alice.encrypt(bob.address, utf8(`m${i}`)));
    const [m0, m1, m2, m3] = messages as [(typeof messages)[0], (typeof messages)[0], (typeof messages)[0], (typeof messages)[0]];
    expect(await bob.decrypt(alice.address, m3)).toEqual(utf8("m3"));
    const chain = () => (async () => (await bob.store.loadSession(alice.address))?.current?.receiverChains[0])();
    expect((await chain())?.skippedKeys.map((k) => k.counter)).toEqual([0, 1, 2]);
    expect((await chain())?.chainKey?.index).toBe(4);
    expect(await bob.decrypt(alice.address, m1)).toEqual(utf8("m1"));
    expect((await chain())?.skippedKeys.map((k) => k.counter)).toEqual([0, 2]);
    await expectCode(bob.decrypt(alice.address, m1), "duplicate_message");
    expect(await bob.decrypt(alice.address, m0)).toEqual(utf8("m0"));
    expect(await bob.decrypt(alice.address, m2)).toEqual(utf8("m2"));
    expect((await chain())?.skippedKeys).toEqual([]);
    // The SPQR keys of delivered messages are gone too.
    expect((await bob.store.loadSession(alice.address))?.current?.pqRatchet?.skippedKeys).toEqual([]);
  });

  it("DR-09: a counter exactly MAX_FORWARD_JUMPS ahead decrypts; one more is refused without state change", async () => {
    const { alice, bob } = await pair();
    const record = await alice.store.loadSession(bob.address);
    const state = record?.current;
    const chain = state?.senderChain?.chainKey;
    const sender = state?.senderChain;
    if (state === undefined || chain === undefined || sender === undefined) throw new Error("no state");
    const ahead = (jump: number) => {
      let key = chain.key;
      for (let i = 0; i < jump; i++) key = nextChainKey(key);
      return create(SessionStateSchema, {
        ...state,
        senderChain: create(SenderChainSchema, {
          ...sender,
          chainKey: create(ChainKeySchema, { index: chain.index + jump, key }),
        }),
      });
    };
    const tooFar = ratchetEncrypt(ahead(MAX_FORWARD_JUMPS + 1), utf8("too far")).message;
    const before = bob.store.snapshot();
    await expectCode(bob.cipher.decrypt(alice.address, tooFar), "counter_too_large");
    expect(bob.store.snapshot()).toEqual(before);
    const atLimit = ratchetEncrypt(ahead(MAX_FORWARD_JUMPS), utf8("at the limit")).message;
    expect(await bob.cipher.decrypt(alice.address, atLimit)).toEqual(utf8("at the limit"));
    // Only the newest 2,000 skipped keys are kept (MAX_MESSAGE_KEYS).
    const skipped = (await bob.store.loadSession(alice.address))?.current?.receiverChains[0]?.skippedKeys ?? [];
    expect(skipped.length).toBe(2_000);
  });

  it("PX-11, PX-12: a replayed PreKey message (one-time prekey) is a duplicate, and once the session is gone the consumed prekey refuses it", async () => {
    const us = await OurParty.create({ oneTimePreKeys: 1 });
    const them = new LibsignalParty();
    await them.processBundle(us.address, await us.bundle(1));
    const first = await them.encrypt(us.address, utf8("first"));
    expect(await us.decrypt(them.address, first)).toEqual(utf8("first"));
    expect(await us.store.loadPreKey(1)).toBeUndefined();
    const before = us.store.snapshot();
    await expectCode(us.decrypt(them.address, first), "duplicate_message");
    expect(us.store.snapshot()).toEqual(before);
    const record = await us.store.loadSession(them.address);
    expect(record?.previous.length).toBe(0);
    await us.forgetSession(them.address);
    const withoutSession = us.store.snapshot();
    await expectCode(us.decrypt(them.address, first), "missing_prekey");
    expect(us.store.snapshot()).toEqual(withoutSession);
    expect(await us.store.loadSession(them.address)).toBeUndefined();
  });

  it("PX-11: with the last-resort Kyber prekey, a replayed PreKey message creates no second session", async () => {
    const us = await OurParty.create({ oneTimePreKeys: 0, lastResortKyber: true });
    const them = new LibsignalParty();
    await them.processBundle(us.address, await us.bundle());
    const first = await them.encrypt(us.address, utf8("first"));
    expect(await us.decrypt(them.address, first)).toEqual(utf8("first"));
    expect(us.store.rememberedKyberUses(us.kyberPreKeyId)).toBe(1);
    await expectCode(us.decrypt(them.address, first), "duplicate_message");
    expect((await us.store.loadSession(them.address))?.previous.length).toBe(0);
    await us.forgetSession(them.address);
    const withoutSession = us.store.snapshot();
    await expectCode(us.decrypt(them.address, first), "duplicate_message");
    expect(us.store.snapshot()).toEqual(withoutSession);
    // A new session from the same peer with a new base key still works with the last-resort key.
    await them.processBundle(us.address, await us.bundle());
    const fresh = await them.encrypt(us.address, utf8("fresh"));
    expect(await us.decrypt(them.address, fresh)).toEqual(utf8("fresh"));
    expect(us.store.rememberedKyberUses(us.kyberPreKeyId)).toBe(2);
  });
});

describe("identity binding and changes (spec ID-11, ID-12, PX-13)", () => {
  it("ID-11 a different identity key for a known address is a forgery: refused, nothing stored", async () => {
    const { alice, bob } = await pair();
    const forger = await OurParty.create({ name: bob.address.name });
    await expectCode(alice.builder.processPreKeyBundle(bob.address, await forger.bundle(1)), "untrusted_identity");
    await forger.builder.processPreKeyBundle(alice.address, await alice.bundle(await alice.addOneTimePreKey()));
    const forged = await forger.encrypt(alice.address, utf8("I am bob"));
    const before = alice.store.snapshot();
    await expectCode(alice.decrypt(bob.address, forged), "untrusted_identity");
    // Even a user accepting the key in the trust store does not make the forgery acceptable.
    await alice.store.saveIdentity(bob.address, forger.identity.publicKey);
    await expectCode(alice.decrypt(bob.address, forged), "untrusted_identity");
    const sessions = (snap: ReadonlyMap<string, Uint8Array>) => [...snap].filter(([k]) => k.startsWith("session/"));
    expect(sessions(alice.store.snapshot())).toEqual(sessions(before));
  });

  it("without address binding (trust store only): refused until accepted; then the old session cannot encrypt", async () => {
    const alice = await OurParty.create({ addressBinding: false });
    const bob = await OurParty.create();
    await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
    await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("hello")));
    await alice.decrypt(bob.address, await bob.encrypt(alice.address, utf8("hi")));
    const newBob = await OurParty.create({ name: bob.address.name, addressBinding: false });
    await newBob.builder.processPreKeyBundle(alice.address, await alice.bundle(await alice.addOneTimePreKey()));
    const fromNewBob = await newBob.encrypt(alice.address, utf8("new key"));
    const before = alice.store.snapshot();
    await expectCode(alice.decrypt(bob.address, fromNewBob), "untrusted_identity");
    expect(alice.store.snapshot()).toEqual(before);
    await expectCode(alice.builder.processPreKeyBundle(bob.address, await newBob.bundle(1)), "untrusted_identity");
    expect(alice.store.snapshot()).toEqual(before);
    // The user accepts the new key.
    expect(await alice.store.saveIdentity(bob.address, newBob.identity.publicKey)).toBe(true);
    await expectCode(alice.encrypt(bob.address, utf8("to the old key")), "untrusted_identity");
    expect(await alice.decrypt(bob.address, fromNewBob)).toEqual(utf8("new key"));
    const reply = await alice.encrypt(bob.address, utf8("to the new key"));
    expect(await newBob.decrypt(alice.address, reply)).toEqual(utf8("to the new key"));
  });
});

describe("replays on archived states (spec DR-14, DR-17)", () => {
  it("a message decrypted by a state that is now archived, replayed, is a duplicate", async () => {
    const alice = await OurParty.create({ lastResortKyber: true });
    const bob = await OurParty.create({ lastResortKyber: true });
    await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
    await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("hello")));
    await alice.decrypt(bob.address, await bob.encrypt(alice.address, utf8("hi")));
    const old = await alice.encrypt(bob.address, utf8("on the old session"));
    expect(await bob.decrypt(alice.address, old)).toEqual(utf8("on the old session"));
    // Alice starts a new session; Bob archives the old state when its first message arrives.
    await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(await bob.addOneTimePreKey()));
    expect(await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("new")))).toEqual(utf8("new"));
    expect((await bob.store.loadSession(alice.address))?.previous.length).toBe(1);
    const before = bob.store.snapshot();
    await expectCode(bob.decrypt(alice.address, old), "duplicate_message");
    expect(bob.store.snapshot()).toEqual(before);
  });
});

describe("expected identity (spec PX-13)", () => {
  it("a message from a session with another identity than the expected one is refused without change", async () => {
    const { alice, bob } = await pair();
    const stranger = await OurParty.create();
    const m = await alice.encrypt(bob.address, utf8("hi"));
    const before = bob.store.snapshot();
    await expectCode(bob.cipher.decryptMessage(alice.address, m, { expectedIdentity: stranger.identity.publicKey }), "untrusted_identity");
    expect(bob.store.snapshot()).toEqual(before);
    expect(await bob.cipher.decryptMessage(alice.address, m, { expectedIdentity: alice.identity.publicKey })).toEqual(utf8("hi"));
    const carol = await OurParty.create();
    // Alice's Kyber prekey is still unused (she initiated with Bob).
    await carol.builder.processPreKeyBundle(alice.address, await alice.bundle(await alice.addOneTimePreKey()));
    const first = await carol.encrypt(alice.address, utf8("from carol"));
    const aliceBefore = alice.store.snapshot();
    await expectCode(alice.cipher.decryptMessage(carol.address, first, { expectedIdentity: stranger.identity.publicKey }), "untrusted_identity");
    expect(alice.store.snapshot()).toEqual(aliceBefore);
    expect(await alice.cipher.decryptMessage(carol.address, first, { expectedIdentity: carol.identity.publicKey })).toEqual(utf8("from carol"));
  });
});

describe("stale unacknowledged sessions (spec DR-20)", () => {
  it("a session never answered for more than 30 days is not used for sending", async () => {
    const alice = await OurParty.create();
    const bob = await OurParty.create();
    await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
    const late = new SessionCipher(alice.store, { now: () => TEST_NOW_MS + MAX_UNACKNOWLEDGED_SESSION_AGE_MS + 1 });
    expect(await late.hasUsableSession(bob.address)).toBe(false);
    await expectCode(late.encrypt(bob.address, utf8("late")), "no_session");
    const onTime = new SessionCipher(alice.store, { now: () => TEST_NOW_MS + MAX_UNACKNOWLEDGED_SESSION_AGE_MS });
    expect(await onTime.hasUsableSession(bob.address)).toBe(true);
    expect((await onTime.encrypt(bob.address, utf8("on time"))).type).toBe(3);
    expect(await onTime.hasUsableSession(alice.address)).toBe(false);
  });
});

describe("simultaneous initiation (Sesame; spec DR-18)", () => {
  it("two of ours converge on one session", async () => {
    const alice = await OurParty.create();
    const bob = await OurParty.create();
    await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
    await bob.builder.processPreKeyBundle(alice.address, await alice.bundle(1));
    const a1 = await alice.encrypt(bob.address, utf8("a1"));
    const b1 = await bob.encrypt(alice.address, utf8("b1"));
    expect(await bob.decrypt(alice.address, a1)).toEqual(utf8("a1"));
    expect(await alice.decrypt(bob.address, b1)).toEqual(utf8("b1"));
    for (let i = 0; i < 3; i++) {
      expect(await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8(`a${i}`)))).toEqual(utf8(`a${i}`));
      expect(await alice.decrypt(bob.address, await bob.encrypt(alice.address, utf8(`b${i}`)))).toEqual(utf8(`b${i}`));
    }
    const aState = (await alice.store.loadSession(bob.address))?.current;
    const bState = (await bob.store.loadSession(alice.address))?.current;
    expect(aState?.baseKey).toEqual(bState?.baseKey);
    expect(aState?.pendingPreKey).toBeUndefined();
  });

  it("we and libsignal converge after simultaneous initiation", async () => {
    const us = await OurParty.create();
    const them = new LibsignalParty();
    await us.builder.processPreKeyBundle(them.address, them.bundle());
    await them.processBundle(us.address, await us.bundle(1));
    const u1 = await us.encrypt(them.address, utf8("u1"));
    const t1 = await them.encrypt(us.address, utf8("t1"));
    expect(await them.decrypt(us.address, u1)).toEqual(utf8("u1"));
    expect(await us.decrypt(them.address, t1)).toEqual(utf8("t1"));
    for (let i = 0; i < 4; i++) {
      expect(await them.decrypt(us.address, await us.encrypt(them.address, utf8(`u${i}`)))).toEqual(utf8(`u${i}`));
      expect(await us.decrypt(them.address, await them.encrypt(us.address, utf8(`t${i}`)))).toEqual(utf8(`t${i}`));
    }
  });
});
