import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  SealedSenderContentSchema,
  SealedSenderEnvelopeSchema,
  SenderCertificateContentsSchema,
  SenderCertificateSchema,
} from "../../gen/securecomm/wire/v1/sealed_sender_pb.js";
import { SenderKeyMessageSchema } from "../../gen/securecomm/wire/v1/sender_key_pb.js";
import { isProtocolError } from "../errors.js";
import { bytesToHex } from "./bytes.js";
import { decodeStrict } from "./proto-strict.js";

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isProtocolError(e) ? e.code : `other: ${String(e)}`;
  }
  return undefined;
}

describe("EN-04 strict protobuf decoding", () => {
  it("EN-04: accepts what our encoder writes, for arbitrary field values (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 40 }), (d, chainId, iteration, ct) => {
        const bytes = toBinary(SenderKeyMessageSchema, create(SenderKeyMessageSchema, { distributionId: d, chainId, iteration, ciphertext: ct }));
        const m = decodeStrict(SenderKeyMessageSchema, bytes);
        expect([bytesToHex(m.distributionId), m.chainId, m.iteration, bytesToHex(m.ciphertext)]).toEqual([bytesToHex(d), chainId, iteration, bytesToHex(ct)]);
      }),
    );
  });

  it("EN-04: rejects a known field with another wire type (which protobuf-es alone accepts)", () => {
    // Field 1 (bytes) tagged as wire type 3 / 0 / 1 / 5 instead of 2.
    for (const tag of [0x0b, 0x08, 0x09, 0x0d]) {
      expect(code(() => decodeStrict(SealedSenderEnvelopeSchema, new Uint8Array([tag, 0x01, 0x05])))).toBe("invalid_message");
    }
    // Field 2 (uint32 chain_id) as length-delimited.
    expect(code(() => decodeStrict(SenderKeyMessageSchema, new Uint8Array([0x12, 0x01, 0x05])))).toBe("invalid_message");
    // Field 3 (fixed64 expires) as a varint.
    expect(code(() => decodeStrict(SenderCertificateContentsSchema, new Uint8Array([0x18, 0x01])))).toBe("invalid_message");
  });

  it("EN-04: checks nested messages too", () => {
    const badCert = new Uint8Array([0x0b, 0x01, 0x00]); // SenderCertificate.certificate with wire type 3
    const content = new Uint8Array([0x08, 0x02, 0x12, badCert.length, ...badCert]);
    expect(code(() => decodeStrict(SealedSenderContentSchema, content))).toBe("invalid_message");
    const good = toBinary(SealedSenderContentSchema, create(SealedSenderContentSchema, {
      type: 2, content: new Uint8Array([1]),
      senderCertificate: create(SenderCertificateSchema, { certificate: new Uint8Array([1, 2]), signature: new Uint8Array([3]) }),
    }));
    expect(decodeStrict(SealedSenderContentSchema, good).senderCertificate?.certificate.length).toBe(2);
  });

  it("EN-04: ignores unknown fields of any valid wire type; rejects groups and truncation", () => {
    const known = toBinary(SenderKeyMessageSchema, create(SenderKeyMessageSchema, { chainId: 5 }));
    const withUnknown = new Uint8Array([...known, 0x78, 0x01, 0x82, 0x01, 0x02, 0xaa, 0xbb, 0x8d, 0x01, 1, 2, 3, 4]);
    expect(decodeStrict(SenderKeyMessageSchema, withUnknown).chainId).toBe(5);
    expect(code(() => decodeStrict(SenderKeyMessageSchema, new Uint8Array([0x7b, 0x7c])))).toBe("invalid_message");
    expect(code(() => decodeStrict(SenderKeyMessageSchema, new Uint8Array([0x0a, 0x05, 1])))).toBe("invalid_message");
    expect(code(() => decodeStrict(SenderKeyMessageSchema, new Uint8Array([0x10, 0xff])))).toBe("invalid_message");
  });

  it("EN-04: random bytes give a value or invalid_message, never another exception (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), (bytes) => {
        const c = code(() => decodeStrict(SealedSenderContentSchema, bytes));
        expect(c === undefined || c === "invalid_message").toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("PX-08 exact protobuf shape (decodeStrict with exact)", () => {
  const message = toBinary(SenderKeyMessageSchema, create(SenderKeyMessageSchema, { distributionId: new Uint8Array(16), chainId: 1, iteration: 2 }));
  const unknownField = Uint8Array.of(...message, 0x30, 0x01); // field 6, varint
  const repeatedField = Uint8Array.of(...message, 0x10, 0x07); // chain_id (field 2) again

  it("PX-08: accepts what our encoder writes", () => {
    expect(decodeStrict(SenderKeyMessageSchema, message, { exact: true }).chainId).toBe(1);
  });

  it("PX-08: rejects unknown fields and a non-repeated field given twice, which the default mode accepts", () => {
    expect(decodeStrict(SenderKeyMessageSchema, unknownField).chainId).toBe(1);
    expect(decodeStrict(SenderKeyMessageSchema, repeatedField).chainId).toBe(7);
    expect(code(() => decodeStrict(SenderKeyMessageSchema, unknownField, { exact: true }))).toBe("invalid_message");
    expect(code(() => decodeStrict(SenderKeyMessageSchema, repeatedField, { exact: true }))).toBe("invalid_message");
  });
});
