import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { KyberPreKeyRecordSchema, UsedBaseKeySchema, VerificationState } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { KeyPair } from "../crypto/curve.js";
import { addressFromIdentityKey, addressToString } from "../keys/address.js";
import { identityToSave, isTrustedIdentityRecord, legacyListRemembersUse } from "./trust-policy.js";

const alice = KeyPair.generate().publicKey;
const mallory = KeyPair.generate().publicKey;
const address = { name: addressToString(addressFromIdentityKey(alice)), deviceId: 1 };

describe("trust policy shared by every protocol store", () => {
  it("ID-11: trusts on first use, then only the same key", () => {
    expect(isTrustedIdentityRecord(undefined, alice, "sending")).toBe(true);
    const first = identityToSave(undefined, address, alice, 1_000);
    expect(first?.replaced).toBe(false);
    expect(first?.record.firstSeenMs).toBe(1_000n);
    expect(identityToSave(first?.record, address, alice, 2_000)).toBeUndefined();
    expect(isTrustedIdentityRecord(first?.record, alice, "receiving")).toBe(true);
    expect(isTrustedIdentityRecord(first?.record, mallory, "receiving")).toBe(false);
    expect(identityToSave(first?.record, address, mallory, 3_000)?.replaced).toBe(true);
  });

  it("ID-12: a key marked CHANGED is not sent to until accepted, but is still received from", () => {
    const record = identityToSave(undefined, address, alice, 0)!.record;
    record.verification = VerificationState.CHANGED;
    expect(isTrustedIdentityRecord(record, alice, "sending")).toBe(false);
    expect(isTrustedIdentityRecord(record, alice, "receiving")).toBe(true);
    record.verification = VerificationState.UNSPECIFIED;
    expect(isTrustedIdentityRecord(record, alice, "sending")).toBe(true);
  });

  it("PX-11: a last-resort record written by an earlier version still remembers the uses in its list", () => {
    const baseKey = alice.serialize();
    const legacy = create(KyberPreKeyRecordSchema, {
      id: 8,
      lastResort: true,
      usedBaseKeys: [create(UsedBaseKeySchema, { signedPreKeyId: 3, baseKey })],
    });
    expect(legacyListRemembersUse(legacy, 3, baseKey)).toBe(true);
    expect(legacyListRemembersUse(legacy, 4, baseKey)).toBe(false);
    expect(legacyListRemembersUse(legacy, 3, mallory.serialize())).toBe(false);
    expect(legacyListRemembersUse(create(KyberPreKeyRecordSchema, { id: 9, lastResort: true }), 3, baseKey)).toBe(false);
  });
});
