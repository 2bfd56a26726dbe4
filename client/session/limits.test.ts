/**
 * Receiver-chain and archived-state limits (spec DR-15, DR-16, DR-17, DR-19).
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SessionStateSchema } from "../../gen/securecomm/storage/v1/session_pb.js";
import { utf8 } from "../crypto/bytes.js";
import { isProtocolError } from "../errors.js";
import { MAX_ARCHIVED_STATES, MAX_RECEIVER_CHAINS } from "../ratchet/constants.js";
import { OurParty } from "./parties.test-support.js";
import type { CiphertextMessage } from "./session-cipher.js";
import { emptySessionRecord, findStateByBaseKey, promoteState, statesInOrder } from "./session-record.js";

describe("limits", () => {
  it("DR-15 a late message decrypts while its chain is among the 5 kept, and fails without change after", async () => {
    const alice = await OurParty.create();
    const bob = await OurParty.create();
    await alice.builder.processPreKeyBundle(bob.address, await bob.bundle(1));
    await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8("hello")));
    // Each round trip gives Bob one new receiving chain. Keep one unsent message per chain.
    const late: CiphertextMessage[] = [];
    for (let turn = 0; turn < MAX_RECEIVER_CHAINS + 2; turn++) {
      await alice.decrypt(bob.address, await bob.encrypt(alice.address, utf8(`b${turn}`)));
      late.push(await alice.encrypt(bob.address, utf8(`late ${turn}`)));
      await bob.decrypt(alice.address, await alice.encrypt(bob.address, utf8(`a${turn}`)));
    }
    const chains = (await bob.store.loadSession(alice.address))?.current?.receiverChains ?? [];
    expect(chains.length).toBe(MAX_RECEIVER_CHAINS);
    // The newest MAX_RECEIVER_CHAINS chains still decrypt their late message.
    for (let turn = late.length - 1; turn >= late.length - MAX_RECEIVER_CHAINS; turn--) {
      expect(new TextDecoder().decode(await bob.decrypt(alice.address, late[turn] as CiphertextMessage))).toBe(`late ${turn}`);
    }
    // Older ones are gone: refused with a ProtocolError and no store change.
    const before = bob.store.snapshot();
    let caught: unknown;
    try {
      await bob.decrypt(alice.address, late[0] as CiphertextMessage);
    } catch (e) {
      caught = e;
    }
    expect(isProtocolError(caught)).toBe(true);
    expect(bob.store.snapshot()).toEqual(before);
  });

  it("DR-16, DR-17, DR-19 promoting archives the current state, newest first, at most 40", () => {
    const state = (n: number) => create(SessionStateSchema, { version: 4, baseKey: Uint8Array.of(n) });
    let record = emptySessionRecord();
    for (let n = 0; n < MAX_ARCHIVED_STATES + 5; n++) record = promoteState(record, state(n));
    expect(record.current?.baseKey).toEqual(Uint8Array.of(MAX_ARCHIVED_STATES + 4));
    expect(record.previous.length).toBe(MAX_ARCHIVED_STATES);
    expect(record.previous[0]?.baseKey).toEqual(Uint8Array.of(MAX_ARCHIVED_STATES + 3));
    // An archived state that decrypts becomes current; the old current is archived in front.
    const found = findStateByBaseKey(record, Uint8Array.of(20));
    expect(found?.position).toBeGreaterThanOrEqual(0);
    if (found === undefined) throw new Error("not found");
    const promoted = promoteState(record, found.state, found.position);
    expect(promoted.current?.baseKey).toEqual(Uint8Array.of(20));
    expect(promoted.previous[0]?.baseKey).toEqual(Uint8Array.of(MAX_ARCHIVED_STATES + 4));
    expect(promoted.previous.length).toBe(MAX_ARCHIVED_STATES);
    expect(statesInOrder(promoted).filter((s) => s.state.baseKey[0] === 20).length).toBe(1);
    // Updating the current state in place archives nothing.
    const same = promoteState(promoted, promoted.current ?? state(0), -1);
    expect(same.previous).toEqual(promoted.previous);
    // The input record is never mutated.
    expect(record.current?.baseKey).toEqual(Uint8Array.of(MAX_ARCHIVED_STATES + 4));
  });
});
