/**
 * Concurrent use of one store (store-lock.ts): operations on a store run one after another, so
 * concurrent decryptions lose no state and a PreKey message cannot be consumed twice
 * (spec DR-13, DR-14, PX-11).
 */
import { describe, expect, it } from "vitest";
import { utf8 } from "../crypto/bytes.js";
import { isProtocolError } from "../errors.js";
import { LibsignalParty, OurParty, seededRandom } from "./parties.test-support.js";

describe("concurrent operations on one store", () => {
  it("concurrent decryptions of shuffled messages each succeed exactly once; concurrent encryptions never reuse a key", async () => {
    const alice = await OurParty.create();
    const bob = await OurParty.create();
    await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
    await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("hello")));
    await alice.decrypt(bob.address, await bob.encrypt(alice.address, utf8("hi")));
    const sent = await Promise.all(Array.from({ length: 30 }, (_, i) => alice.encrypt(bob.address, utf8(`m${i}`))));
    const bodies = new Set(sent.map((m) => Buffer.from(m.body).toString("hex")));
    expect(bodies.size).toBe(30);
    const rand = seededRandom(7);
    const order = sent.map((m, i) => ({ m, i, k: rand() })).sort((x, y) => x.k - y.k);
    const results = await Promise.all(order.map(({ m }) => bob.decrypt(alice.address, m)));
    expect(results.map((r) => new TextDecoder().decode(r))).toEqual(order.map(({ i }) => `m${i}`));
    const chain = (await bob.store.loadSession(alice.address))?.current?.receiverChains[0];
    expect(chain?.skippedKeys).toEqual([]);
    expect(chain?.chainKey?.index).toBe(30);
  });

  it("the same PreKey message delivered twice at once creates one session; the other is a duplicate", async () => {
    const us = await OurParty.create();
    const them = new LibsignalParty();
    await them.processBundle(us.address, await us.bundle(1));
    const first = await them.encrypt(us.address, utf8("first"));
    const outcomes = await Promise.allSettled([us.decrypt(them.address, first), us.decrypt(them.address, first)]);
    expect(outcomes.filter((o) => o.status === "fulfilled").length).toBe(1);
    const rejected = outcomes.find((o) => o.status === "rejected");
    expect(rejected !== undefined && isProtocolError(rejected.reason, "duplicate_message")).toBe(true);
    expect((await us.store.loadSession(them.address))?.previous.length).toBe(0);
  });
});
