import { describe, expect, it } from "vitest";
import { utf8 } from "../crypto/bytes.js";
import { LibsignalParty, OurParty } from "./parties.test-support.js";

describe("smoke", () => {
  it("libsignal initiates to us", async () => {
    const us = await OurParty.create();
    const them = new LibsignalParty();
    await them.processBundle(us.address, await us.bundle(1));
    const m1 = await them.encrypt(us.address, utf8("hello"));
    expect(m1.type).toBe(3);
    expect(await us.decrypt(them.address, m1)).toEqual(utf8("hello"));
    const r1 = await us.encrypt(them.address, utf8("reply"));
    expect(r1.type).toBe(2);
    expect(await them.decrypt(us.address, r1)).toEqual(utf8("reply"));
  });
  it("we initiate to libsignal", async () => {
    const us = await OurParty.create();
    const them = new LibsignalParty();
    await us.builder.processPreKeyBundle(them.address, them.bundle());
    const m1 = await us.encrypt(them.address, utf8("hello"));
    expect(m1.type).toBe(3);
    expect(await them.decrypt(us.address, m1)).toEqual(utf8("hello"));
    const r1 = await them.encrypt(us.address, utf8("reply"));
    expect(await us.decrypt(them.address, r1)).toEqual(utf8("reply"));
  });
});
