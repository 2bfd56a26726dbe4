import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  SenderChainKeySchema,
  SenderKeyRecordSchema,
  SenderKeyStateSchema,
  SenderMessageKeySchema,
} from "../../gen/securecomm/storage/v1/sender_key_pb.js";
import { SenderKeyMessageSchema } from "../../gen/securecomm/wire/v1/sender_key_pb.js";
import { bytesToHex } from "../crypto/bytes.js";
import { KeyPair } from "../crypto/curve.js";
import { decodeStrict } from "../crypto/proto-strict.js";
import { isProtocolError } from "../errors.js";
import { decodeSenderKeyMessage, encodeSenderKeyMessage } from "./messages.js";
import { encodeSenderKeyRecord } from "./record-codec.js";

const uint32 = fc.oneof(fc.constant(0), fc.nat(200), fc.nat(0xffff), fc.constant(0xffff_ffff), fc.nat(0xffff_ffff));
const someBytes = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.uint8Array({ minLength: 120, maxLength: 300 }));
const keyFields = fc.record({ iteration: uint32, seed: someBytes });
const state = fc
  .record({
    chainId: uint32,
    chainKey: fc.option(keyFields.map((k) => create(SenderChainKeySchema, k)), { nil: undefined }),
    signingPublicKey: someBytes,
    signingPrivateKey: someBytes,
    skippedKeys: fc.array(keyFields.map((k) => create(SenderMessageKeySchema, k)), { maxLength: 5 }),
  })
  .map((s) => create(SenderKeyStateSchema, s));
const record = fc.array(state, { maxLength: 5 }).map((states) => create(SenderKeyRecordSchema, { states }));

describe("record-codec.ts: SenderKeyRecord bytes equal protobuf-es's", () => {
  it("encodeSenderKeyRecord = toBinary on arbitrary records (property)", () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(bytesToHex(encodeSenderKeyRecord(r))).toBe(bytesToHex(toBinary(SenderKeyRecordSchema, r)));
      }),
      { numRuns: 300 },
    );
  });

  it("a record with unknown fields (a newer writer) keeps them, as toBinary does", () => {
    const base = toBinary(SenderKeyRecordSchema, create(SenderKeyRecordSchema, { states: [create(SenderKeyStateSchema, { chainId: 7 })] }));
    // Field 9 (varint 5) at the top level and inside the state (field 15, bytes "ab").
    const withUnknown = new Uint8Array([...base, 0x48, 0x05]);
    const inner = new Uint8Array([0x0a, (base[1] as number) + 4, ...base.subarray(2), 0x7a, 0x02, 0x61, 0x62, 0x48, 0x05]);
    for (const bytes of [withUnknown, inner]) {
      const decoded = fromBinary(SenderKeyRecordSchema, bytes);
      expect(bytesToHex(encodeSenderKeyRecord(decoded))).toBe(bytesToHex(toBinary(SenderKeyRecordSchema, decoded)));
    }
  });
});

const signer = KeyPair.generate();

/** The decoder before the plain reader: always the strict protobuf-es decode, then the checks. */
function referenceDecode(bytes: Uint8Array): string {
  try {
    if (bytes.length === 0) return "invalid_message";
    if (bytes[0] !== 0x33) return "invalid_version";
    if (bytes.length < 66) return "invalid_message";
    const m = decodeStrict(SenderKeyMessageSchema, bytes.subarray(1, bytes.length - 64));
    if (m.distributionId.length !== 16 || m.chainId === undefined || m.iteration === undefined || m.ciphertext.length === 0 || m.ciphertext.length % 16 !== 0) {
      return "invalid_message";
    }
    return [bytesToHex(m.distributionId), m.chainId, m.iteration, bytesToHex(m.ciphertext)].join("/");
  } catch (e) {
    return isProtocolError(e) ? e.code : "other";
  }
}

function actualDecode(bytes: Uint8Array): string {
  try {
    const m = decodeSenderKeyMessage(bytes);
    return [bytesToHex(m.distributionId), m.chainId, m.iteration, bytesToHex(m.ciphertext)].join("/");
  } catch (e) {
    return isProtocolError(e) ? e.code : "other";
  }
}

describe("messages.ts: the hand-written SenderKeyMessage writer and plain reader (SK-05)", () => {
  it("the signed body equals toBinary's for any field values (property)", () => {
    fc.assert(
      fc.property(someBytes, uint32, uint32, someBytes, (distributionId, chainId, iteration, ciphertext) => {
        const fields = { distributionId, chainId, iteration, ciphertext };
        const m = encodeSenderKeyMessage(fields, signer.privateKey);
        const body = toBinary(SenderKeyMessageSchema, create(SenderKeyMessageSchema, fields));
        expect(bytesToHex(m.subarray(0, m.length - 64))).toBe(`33${bytesToHex(body)}`);
      }),
      { numRuns: 200 },
    );
  });

  it("reads every encoding as the strict decoder does: reordered, repeated, unknown, non-minimal, truncated (property)", () => {
    const varint = (n: number, pad: number): number[] => {
      const out: number[] = [];
      let v = n;
      while (v >= 0x80) {
        out.push((v & 0x7f) | 0x80);
        v = Math.floor(v / 0x80);
      }
      out.push(v);
      for (let i = 0; i < pad; i++) {
        out[out.length - 1] = (out[out.length - 1] as number) | 0x80;
        out.push(i === pad - 1 ? 0 : 0x80);
      }
      return out;
    };
    const field = fc.oneof(
      fc.record({ n: fc.constant(1), v: fc.uint8Array({ minLength: 15, maxLength: 17 }), pad: fc.nat(1) }),
      fc.record({ n: fc.constantFrom(2, 3), v: uint32, pad: fc.nat(1) }),
      fc.record({ n: fc.constant(4), v: fc.uint8Array({ minLength: 0, maxLength: 48 }), pad: fc.nat(1) }),
      fc.record({ n: fc.constantFrom(5, 9), v: fc.nat(300), pad: fc.constant(0) }),
    );
    const wire = (f: { n: number; v: number | Uint8Array; pad: number }, wrongType: boolean): number[] =>
      typeof f.v === "number"
        ? [(f.n << 3) | (wrongType ? 2 : 0), ...varint(f.v, f.pad)]
        : [(f.n << 3) | (wrongType ? 0 : 2), ...varint(f.v.length, f.pad), ...f.v];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(field, fc.nat(4).map((n) => n === 0)), { minLength: 0, maxLength: 6 }),
        fc.boolean(),
        fc.nat(8),
        (fields, plainOrder, cut) => {
          const list = plainOrder ? [...fields].sort((a, b) => a[0].n - b[0].n) : fields;
          const body = list.flatMap(([f, wrong]) => wire(f, wrong && f.n !== 5 && f.n !== 9));
          const truncated = cut > 5 ? body.slice(0, Math.max(0, body.length - cut)) : body;
          const bytes = new Uint8Array([0x33, ...truncated, ...new Uint8Array(64)]);
          expect(actualDecode(bytes)).toBe(referenceDecode(bytes));
        },
      ),
      { numRuns: 1500 },
    );
  });
});
