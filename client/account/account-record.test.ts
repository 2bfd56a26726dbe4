import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AccountRecord, parseAccountRecord, serializeAccountRecord } from "./account-record.js";

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const ms = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const accountRecord: fc.Arbitrary<AccountRecord> = fc.record({
  displayName: fc.string({ maxLength: 64 }),
  deliveryToken: bytes(32),
  deliveryTokenRegistered: fc.boolean(),
  trustRoot: fc.option(bytes(33), { nil: undefined }),
  senderCertificate: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { nil: undefined }),
  senderCertificateExpiresMs: ms,
  nextPreKeyId: u32,
  nextKyberPreKeyId: u32,
  nextSignedPreKeyId: u32,
  signedPreKeyId: u32,
  lastResortKyberPreKeyId: u32,
  signedPreKeyRotatedMs: ms,
  retired: fc.array(
    fc.record({ kind: fc.constantFrom("signed" as const, "kyber" as const), id: u32, atMs: ms }),
    { maxLength: 5 },
  ),
});

describe("account record (storage.v1 AccountRecord)", () => {
  it("round-trips every record", () => {
    fc.assert(
      fc.property(accountRecord, (record) => {
        expect(parseAccountRecord(serializeAccountRecord(record))).toEqual(record);
      }),
    );
  });

  it("refuses bytes that are not a record with a TypeError", () => {
    // Field 1 (display_name) with the varint wire type, and a truncated length prefix.
    for (const corrupt of [Uint8Array.of(0x08, 0x01), Uint8Array.of(0x12, 0x20, 0x00)]) {
      expect(() => parseAccountRecord(corrupt)).toThrow(TypeError);
    }
  });
});
