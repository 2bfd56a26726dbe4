// The protocol store keeps the last parsed or stored session record per address and returns it
// while the stored bytes are the bytes it came from (client/store/protocol-store.ts). These tests
// play the attacker against that cache: a failed decryption (a validly encrypted replay, a
// tampered MAC or body, a message that decrypts but comes from the wrong identity) must leave
// the stored bytes AND what the next load returns exactly as they were (spec DR-13, PX-*:
// bad input changes nothing), and a rolled-back transaction must not leave its record behind.
import { describe, expect, it } from "vitest";
import type { SessionRecord, SessionState } from "../../gen/securecomm/storage/v1/session_pb.js";
import { KeyPair } from "../crypto/curve.js";
import { utf8 } from "../crypto/bytes.js";
import type { ProtocolErrorCode } from "../errors.js";
import { addressKey } from "../store/protocol-address.js";
import { KEYS, KvProtocolStore } from "../store/protocol-store.js";
import { parseSessionRecord, serializeSessionRecord } from "../store/record-codec.js";
import { IdentityKeyPair } from "../keys/identity.js";
import { OurParty, TEST_NOW_MS } from "./parties.test-support.js";
import { type CiphertextMessage, MESSAGE_TYPE_SIGNAL } from "./session-cipher.js";
import { promoteState } from "./session-record.js";
import { expectCode } from "../errors.test-support.js";


/** Alice and Bob after a few messages each way (the Braid under way). */
async function talking(): Promise<{ alice: OurParty; bob: OurParty }> {
  const alice = await OurParty.create();
  const bob = await OurParty.create();
  await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
  for (let i = 0; i < 6; i++) {
    await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8(`a${i}`)));
    await alice.decrypt(bob.address, await bob.encrypt(alice.address, utf8(`b${i}`)));
  }
  return { alice, bob };
}

function storedBytes(party: OurParty, peer: OurParty): Uint8Array {
  const bytes = party.store.state.get(KEYS.session + addressKey(peer.address));
  if (bytes === undefined) throw new Error("no session stored");
  return bytes;
}

function flipLast(m: CiphertextMessage): CiphertextMessage {
  const body = m.body.slice();
  body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
  return { type: m.type, body };
}

describe("parsed session records kept by the protocol store", () => {
  it("failed decryptions (replay, tampered MAC or body, wrong identity after decrypting) change neither the stored bytes nor what loads return", async () => {
    const { alice, bob } = await talking();
    const delivered = await alice.encrypt(bob.address, utf8("delivered"));
    await bob.decrypt(alice.address, delivered);
    const pending = await alice.encrypt(bob.address, utf8("pending"));
    expect(pending.type).toBe(MESSAGE_TYPE_SIGNAL);

    const snapshot = bob.store.snapshot();
    const bytes = storedBytes(bob, alice);
    const cached = await bob.store.loadSession(alice.address);
    // The load after our own store returns the kept record (what this test exercises).
    expect(await bob.store.loadSession(alice.address)).toBe(cached);

    const attempts: Array<[string, () => Promise<unknown>, ProtocolErrorCode]> = [
      ["validly encrypted replay", () => bob.decrypt(alice.address, delivered), "duplicate_message"],
      ["tampered MAC", () => bob.decrypt(alice.address, flipLast(pending)), "bad_mac"],
      [
        "tampered body (a byte of the ciphertext)",
        () => {
          const body = pending.body.slice();
          body[body.length - 20] = (body[body.length - 20] as number) ^ 0x80;
          return bob.decrypt(alice.address, { type: pending.type, body });
        },
        "bad_mac",
      ],
      [
        // Decrypts and advances a state in memory, then is refused before anything is stored.
        "decrypts, but the caller expected another identity",
        () => bob.cipher.decrypt(alice.address, pending.body, { expectedIdentity: KeyPair.generate().publicKey }),
        "untrusted_identity",
      ],
    ];
    for (const [, attempt, code] of attempts) {
      await expectCode(attempt(), code);
      expect(bob.store.snapshot()).toEqual(snapshot);
      const loaded = await bob.store.loadSession(alice.address);
      expect(loaded).toBe(cached);
      // What the load returns is exactly the stored bytes' record.
      expect(serializeSessionRecord(loaded as SessionRecord)).toEqual(bytes);
      expect(loaded).toStrictEqual(parseSessionRecord(bytes));
    }
    // And the genuine message still decrypts, once.
    expect(await bob.decrypt(alice.address, pending)).toEqual(utf8("pending"));
    await expectCode(bob.decrypt(alice.address, pending), "duplicate_message");
  });

  it("a transaction that stores a session and then fails leaves loads returning the committed record", async () => {
    const { alice, bob } = await talking();
    const committed = storedBytes(bob, alice);
    const record = await bob.store.loadSession(alice.address);
    const current = record?.current;
    if (record === undefined || current === undefined) throw new Error("no session");
    const changed: SessionState = { ...current, previousCounter: current.previousCounter + 1000 };
    await expect(
      bob.store.state.transaction(async () => {
        await bob.store.store.storeSession(alice.address, promoteState(record, changed, -1));
        // Inside the transaction the new record is what a load sees...
        expect((await bob.store.loadSession(alice.address))?.current?.previousCounter).toBe(current.previousCounter + 1000);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    // ...and after the rollback, the committed one.
    expect(storedBytes(bob, alice)).toEqual(committed);
    const after = await bob.store.loadSession(alice.address);
    expect(after?.current?.previousCounter).toBe(current.previousCounter);
    expect(serializeSessionRecord(after as SessionRecord)).toEqual(committed);
    expect(await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("after")))).toEqual(utf8("after"));
  });

  it("loaded and stored records are frozen: changing one in place throws instead of reaching later loads", async () => {
    const { alice, bob } = await talking();
    const record = await bob.store.loadSession(alice.address);
    const current = record?.current;
    if (record === undefined || current === undefined) throw new Error("no session");
    expect(() => {
      (record.previous as SessionState[]).push(current);
    }).toThrow(TypeError);
    expect(() => {
      (current as { previousCounter: number }).previousCounter = 7;
    }).toThrow(TypeError);
    expect(() => {
      (current.receiverChains[0] as { skippedKeys: unknown[] }).skippedKeys = [];
    }).toThrow(TypeError);
    const braid = current.pqRatchet?.braid;
    expect(braid === undefined || Object.isFrozen(braid.links)).toBe(true);
    expect(serializeSessionRecord(record)).toEqual(storedBytes(bob, alice));
  });

  it("another writer of the same state store is seen: the kept record is returned only for its own bytes", async () => {
    const { alice, bob } = await talking();
    const second = new KvProtocolStore(bob.store.state, new IdentityKeyPair(bob.identity, bob.registrationId), () => TEST_NOW_MS);
    const viaFirst = await bob.store.loadSession(alice.address);
    await bob.store.state.transaction(async () => {
      const loaded = await second.loadSession(alice.address);
      expect(loaded).toStrictEqual(viaFirst);
      if (loaded === undefined || loaded.current === undefined) throw new Error("no session");
      await second.storeSession(alice.address, promoteState(loaded, { ...loaded.current, previousCounter: 4242 }, -1));
    });
    const viaFirstAgain = await bob.store.loadSession(alice.address);
    expect(viaFirstAgain?.current?.previousCounter).toBe(4242);
    expect(viaFirstAgain).toStrictEqual(parseSessionRecord(storedBytes(bob, alice)));
    // And the conversation goes on from the other writer's record (its counters are unused by receiving).
    expect(await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("next")))).toEqual(utf8("next"));
  });
});
