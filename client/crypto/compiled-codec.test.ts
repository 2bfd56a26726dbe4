import { create, type DescMessage, fromBinary, ScalarType, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as accountPb from "../../gen/securecomm/storage/v1/account_pb.js";
import * as keysPb from "../../gen/securecomm/storage/v1/keys_pb.js";
import * as roomPb from "../../gen/securecomm/storage/v1/room_pb.js";
import * as senderKeyPb from "../../gen/securecomm/storage/v1/sender_key_pb.js";
import * as signalMessagePb from "../../gen/securecomm/wire/v1/signal_message_pb.js";
import {
  ChainKeySchema,
  PendingPreKeySchema,
  PqBraidSchema,
  PqChainEpochSchema,
  PqChunkSchema,
  PqRatchetStateSchema,
  PqSkippedKeySchema,
  ReceiverChainSchema,
  SenderChainSchema,
  type SessionRecord,
  SessionRecordSchema,
  SessionStateSchema,
  SkippedMessageKeySchema,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import { OurParty } from "../session/parties.test-support.js";
import { compileCodec } from "./compiled-codec.js";
import { addressKey } from "../store/protocol-address.js";
import { KEYS } from "../store/protocol-store.js";

const codec = compileCodec(SessionRecordSchema);
if (codec === undefined) throw new Error("the session record schema must compile");

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
/** Mostly small values (the records' real ones), sometimes the whole uint32 range. */
const u32 = fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 0xffffffff }));
/** Up to 2^53 the fast path encodes; above it protobuf-es does (both must agree). */
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);
const chainKey = fc.record({ index: u32, key: fixed(32) }).map((v) => create(ChainKeySchema, v));
const skipped = fc.record({ counter: u32, seed: fixed(32) }).map((v) => create(SkippedMessageKeySchema, v));
const pqSkipped = fc.record({ index: u32, key: fixed(32) }).map((v) => create(PqSkippedKeySchema, v));
const link = fc
  .record({
    epoch: u64,
    sendChainKey: fixed(32),
    sendCounter: u32,
    receiveChainKey: bytes(32),
    receiveCounter: u32,
    skippedKeys: fc.array(pqSkipped, { maxLength: 3 }),
  })
  .map((v) => create(PqChainEpochSchema, v));
const braid = fc
  .record({
    nextRoot: fixed(32),
    links: fc.array(link, { maxLength: 5 }),
    authRootKey: fixed(32),
    authMacKey: fixed(32),
    epoch: u64,
    stage: fc.nat({ max: 11 }),
    nextChunk: u32,
    outgoing: bytes(1200),
    decapsulationKey: bytes(2400),
    header: bytes(64),
    encapsM: bytes(32),
    ct1: bytes(960),
    incoming: fc.array(fc.record({ index: u32, data: fixed(32) }).map((v) => create(PqChunkSchema, v)), { maxLength: 36 }),
    ekVector: bytes(1152),
  })
  .map((v) => create(PqBraidSchema, v));
const pq = fc
  .record({
    isInitiator: fc.boolean(),
    sendChainKey: bytes(32),
    sendCounter: u32,
    receiveChainKey: bytes(32),
    receiveCounter: u32,
    skippedKeys: fc.array(pqSkipped, { maxLength: 3 }),
    epoch: u64,
    braid: fc.option(braid, { nil: undefined }),
  })
  .map(({ braid: b, ...rest }) => create(PqRatchetStateSchema, b === undefined ? rest : { ...rest, braid: b }));
const pending = fc
  .record({
    preKeyId: fc.option(u32, { nil: undefined }),
    signedPreKeyId: u32,
    baseKey: fixed(33),
    kyberPreKeyId: u32,
    kyberCiphertext: bytes(1569),
    createdAtMs: u64,
  })
  .map(({ preKeyId, ...rest }) => create(PendingPreKeySchema, preKeyId === undefined ? rest : { ...rest, preKeyId }));
const state = fc
  .record({
    version: fc.constantFrom(4, 3, 0),
    localIdentityKey: fixed(33),
    remoteIdentityKey: fixed(33),
    rootKey: fixed(32),
    previousCounter: u32,
    senderChain: fc.option(
      fc.record({ ratchetPublicKey: fixed(33), ratchetPrivateKey: fixed(32), chainKey: fc.option(chainKey, { nil: undefined }) }).map(
        ({ chainKey: ck, ...rest }) => create(SenderChainSchema, ck === undefined ? rest : { ...rest, chainKey: ck }),
      ),
      { nil: undefined },
    ),
    receiverChains: fc.array(
      fc
        .record({ ratchetPublicKey: fixed(33), chainKey, skippedKeys: fc.array(skipped, { maxLength: 4 }) })
        .map((v) => create(ReceiverChainSchema, v)),
      { maxLength: 5 },
    ),
    pendingPreKey: fc.option(pending, { nil: undefined }),
    remoteRegistrationId: u32,
    localRegistrationId: u32,
    baseKey: bytes(33),
    pqRatchet: fc.option(pq, { nil: undefined }),
  })
  .map((v) => {
    const init: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) init[k] = x;
    return create(SessionStateSchema, init);
  });
const sessionRecord = fc
  .record({ current: fc.option(state, { nil: undefined }), previous: fc.array(state, { maxLength: 3 }) })
  .map(({ current, previous }) => create(SessionRecordSchema, current === undefined ? { previous } : { current, previous }));

/** The largest bigint anywhere in `value` (0 if none). */
function largestBigInt(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return 0n;
  let max = 0n;
  for (const v of Object.values(value)) {
    const m = largestBigInt(v);
    if (m > max) max = m;
  }
  return max;
}

/** Decodes with both codecs: equal messages, or both throw. */
function expectSameDecode(input: Uint8Array): void {
  let expected: SessionRecord | undefined;
  let expectedError: unknown;
  try {
    expected = fromBinary(SessionRecordSchema, input);
  } catch (e) {
    expectedError = e;
  }
  if (expectedError !== undefined) {
    expect(() => codec?.decode(input)).toThrow();
    return;
  }
  const decoded = codec?.decode(input);
  // Same keys, same values, same (plain object) shapes.
  expect(decoded).toStrictEqual(expected);
  // And the encoder gives protobuf-es's bytes for what came out.
  expect(codec?.encode(decoded as SessionRecord)).toEqual(toBinary(SessionRecordSchema, expected as SessionRecord));
}

describe("compiled codec (client/crypto/compiled-codec.ts) against protobuf-es", () => {
  it("encodes every session record to toBinary's bytes and decodes them to fromBinary's message", () => {
    fc.assert(
      fc.property(sessionRecord, (record) => {
        const reference = toBinary(SessionRecordSchema, record);
        expect(codec.encode(record)).toEqual(reference);
        expectSameDecode(reference);
      }),
      { numRuns: 120 },
    );
  });

  it("takes the fast path for records in the plain range, both ways", () => {
    fc.assert(
      fc.property(sessionRecord, (record) => {
        const largest = largestBigInt(record);
        const encoded = codec.encode(record);
        expect(codec.lastWasFast).toBe(largest <= BigInt(Number.MAX_SAFE_INTEGER));
        codec.decode(encoded);
        // Decoding hands uint64 varints longer than 7 bytes (≥ 2^49) to protobuf-es.
        expect(codec.lastWasFast).toBe(largest < 1n << 49n);
      }),
      { numRuns: 100 },
    );
  });

  it("malformed input: bit flips, truncations, insertions decode as protobuf-es decodes them (or both throw)", () => {
    fc.assert(
      fc.property(
        sessionRecord.filter((r) => toBinary(SessionRecordSchema, r).length > 0),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 7 })), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 6 }),
        fc.constantFrom("flip", "truncate", "insert"),
        (record, flips, cut, inserted, how) => {
          const good = toBinary(SessionRecordSchema, record);
          let bad: Uint8Array;
          if (how === "flip") {
            bad = good.slice();
            for (const [at, bit] of flips) bad[at % bad.length] = (bad[at % bad.length] as number) ^ (1 << bit);
          } else if (how === "truncate") {
            bad = good.slice(0, cut % good.length);
          } else {
            const at = cut % (good.length + 1);
            bad = new Uint8Array([...good.subarray(0, at), ...inserted, ...good.subarray(at)]);
          }
          expectSameDecode(bad);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("unknown fields, repeated singular messages and non-minimal varints are protobuf-es's to decode and re-encode", () => {
    const record = create(SessionRecordSchema, {
      current: create(SessionStateSchema, { version: 4, rootKey: new Uint8Array(32).fill(7), previousCounter: 3 }),
    });
    const good = toBinary(SessionRecordSchema, record);
    // Field 15 (unknown), varint 1.
    const unknown = new Uint8Array([...good, 15 << 3, 1]);
    expectSameDecode(unknown);
    expect(codec.lastWasFast).toBe(false);
    const withUnknown = fromBinary(SessionRecordSchema, unknown);
    expect(codec.encode(withUnknown)).toEqual(toBinary(SessionRecordSchema, withUnknown));
    expect(codec.lastWasFast).toBe(false);
    // `current` twice: protobuf-es merges the two.
    const twice = new Uint8Array([...good, ...toBinary(SessionRecordSchema, create(SessionRecordSchema, { current: create(SessionStateSchema, { version: 9 }) }))]);
    expectSameDecode(twice);
    expect(codec.decode(twice).current?.rootKey).toEqual(new Uint8Array(32).fill(7));
    // previous_counter (field 5 of the state) as a two-byte varint 0x83 0x00.
    const inner = new Uint8Array([5 << 3, 0x83, 0x00]);
    expectSameDecode(new Uint8Array([1 << 3 | 2, inner.length, ...inner]));
    expect(codec.decode(new Uint8Array([1 << 3 | 2, inner.length, ...inner])).current?.previousCounter).toBe(3);
  });

  it("real session records of a conversation with Braid traffic take the fast path and match protobuf-es", async () => {
    const a = await OurParty.create();
    const b = await OurParty.create();
    await a.builder.processPreKeyBundle(b.address, await b.bundle(1));
    const pt = new Uint8Array(16);
    for (let i = 0; i < 60; i++) {
      const [from, to] = i % 3 === 2 ? [b, a] : [a, b];
      await to.cipher.decryptMessage(from.address, await from.cipher.encrypt(to.address, pt));
      const stored = a.store.state.get(KEYS.session + addressKey(b.address));
      if (stored === undefined) throw new Error("no session stored");
      expectSameDecode(stored);
      expect(codec.lastWasFast).toBe(true);
    }
  });

  it("a schema with field kinds outside the plan (strings) does not compile", () => {
    expect(compileCodec(accountPb.AccountRecordSchema)).toBeUndefined();
  });

  it("every storage.v1 record schema and the SignalMessage wire schemas that compile match protobuf-es on messages drawn from its descriptor", () => {
    const schemas = [accountPb, keysPb, roomPb, senderKeyPb, signalMessagePb]
      .flatMap((m) => Object.values(m))
      .filter((v): v is DescMessage => typeof v === "object" && v !== null && (v as { kind?: string }).kind === "message");
    const compiled = schemas.filter((d) => compileCodec(d) !== undefined);
    // The prekey and identity records at least (record-codec.ts reads them on every message).
    expect(compiled.map((d) => d.typeName)).toEqual(
      expect.arrayContaining([
        keysPb.TrustedIdentityRecordSchema.typeName,
        keysPb.KyberPreKeyRecordSchema.typeName,
        signalMessagePb.SignalMessageSchema.typeName,
      ]),
    );
    for (const desc of compiled) {
      const c = compileCodec(desc);
      fc.assert(
        fc.property(messageOf(desc, 0), (message) => {
          const reference = toBinary(desc, message);
          expect(c?.encode(message)).toEqual(reference);
          expect(c?.decode(reference)).toStrictEqual(fromBinary(desc, reference));
        }),
        { numRuns: 60 },
      );
    }
  });
});

/** Messages of any compiled schema, drawn field by field from its descriptor. */
function messageOf(desc: DescMessage, depth: number): fc.Arbitrary<ReturnType<typeof create>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of desc.fields) {
    let value: fc.Arbitrary<unknown>;
    if (f.fieldKind === "scalar") {
      value =
        f.scalar === ScalarType.UINT32
          ? u32
          : f.scalar === ScalarType.UINT64
            ? u64
            : f.scalar === ScalarType.BOOL
              ? fc.boolean()
              : bytes(40);
    } else if (f.fieldKind === "enum") {
      value = fc.nat({ max: 5 });
    } else if (f.fieldKind === "message") {
      value = depth > 3 ? fc.constant(undefined) : messageOf(f.message, depth + 1);
    } else if (f.fieldKind === "list" && f.listKind === "message") {
      value = depth > 3 ? fc.constant([]) : fc.array(messageOf(f.message, depth + 1), { maxLength: 3 });
    } else {
      throw new Error("a compiled schema has only the kinds above");
    }
    parts[f.localName] = fc.option(value, { nil: undefined });
  }
  return fc.record(parts).map((init) => {
    const defined: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(init)) if (v !== undefined) defined[k] = v;
    return create(desc, defined);
  });
}
