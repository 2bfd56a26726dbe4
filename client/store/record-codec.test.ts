import { create, equals } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  KyberPreKeyRecordSchema,
  PreKeyRecordSchema,
  SignedPreKeyRecordSchema,
  TrustedIdentityRecordSchema,
  UsedBaseKeySchema,
  VerificationState,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import {
  ChainKeySchema,
  PendingPreKeySchema,
  PqRatchetStateSchema,
  PqSkippedKeySchema,
  ReceiverChainSchema,
  SenderChainSchema,
  SessionRecordSchema,
  SessionStateSchema,
  SkippedMessageKeySchema,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import { isProtocolError } from "../errors.js";
import {
  parseKyberPreKeyRecord,
  parsePreKeyRecord,
  parseSessionRecord,
  parseSignedPreKeyRecord,
  parseTrustedIdentityRecord,
  serializeKyberPreKeyRecord,
  serializePreKeyRecord,
  serializeSessionRecord,
  serializeSignedPreKeyRecord,
  serializeTrustedIdentityRecord,
} from "./record-codec.js";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u32 = fc.nat({ max: 0xffffffff });
const chainKey = fc.record({ index: u32, key: bytes(32) }).map((v) => create(ChainKeySchema, v));
const skipped = fc.record({ counter: u32, seed: bytes(32) }).map((v) => create(SkippedMessageKeySchema, v));
const receiverChain = fc
  .record({ ratchetPublicKey: bytes(33), chainKey, skippedKeys: fc.array(skipped, { maxLength: 4 }) })
  .map((v) => create(ReceiverChainSchema, v));
const pending = fc
  .record({
    preKeyId: fc.option(u32, { nil: undefined }),
    signedPreKeyId: u32,
    baseKey: bytes(33),
    kyberPreKeyId: u32,
    kyberCiphertext: fc.uint8Array({ maxLength: 64 }),
    createdAtMs: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  })
  .map(({ preKeyId, ...rest }) => create(PendingPreKeySchema, preKeyId === undefined ? rest : { ...rest, preKeyId }));
const pq = fc
  .record({
    isInitiator: fc.boolean(),
    sendChainKey: bytes(32),
    sendCounter: u32,
    receiveChainKey: bytes(32),
    receiveCounter: u32,
    skippedKeys: fc.array(fc.record({ index: u32, key: bytes(32) }).map((v) => create(PqSkippedKeySchema, v)), { maxLength: 3 }),
    epoch: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  })
  .map((v) => create(PqRatchetStateSchema, v));
const state = fc
  .record({
    version: fc.constantFrom(4, 3, 0),
    localIdentityKey: bytes(33),
    remoteIdentityKey: bytes(33),
    rootKey: bytes(32),
    previousCounter: u32,
    senderChain: fc
      .record({ ratchetPublicKey: bytes(33), ratchetPrivateKey: bytes(32), chainKey })
      .map((v) => create(SenderChainSchema, v)),
    receiverChains: fc.array(receiverChain, { maxLength: 5 }),
    pendingPreKey: fc.option(pending, { nil: undefined }),
    remoteRegistrationId: u32,
    localRegistrationId: u32,
    baseKey: bytes(33),
    pqRatchet: pq,
  })
  .map(({ pendingPreKey, ...rest }) =>
    create(SessionStateSchema, pendingPreKey === undefined ? rest : { ...rest, pendingPreKey }),
  );
const sessionRecord = fc
  .record({ current: fc.option(state, { nil: undefined }), previous: fc.array(state, { maxLength: 3 }) })
  .map(({ current, previous }) => create(SessionRecordSchema, current === undefined ? { previous } : { current, previous }));

describe("record serialization (securecomm.storage.v1)", () => {
  it("session records round-trip: parse ∘ serialize = id", () => {
    fc.assert(
      fc.property(sessionRecord, (record) => {
        const bytesOut = serializeSessionRecord(record);
        const parsed = parseSessionRecord(bytesOut);
        expect(equals(SessionRecordSchema, parsed, record)).toBe(true);
        expect(serializeSessionRecord(parsed)).toEqual(bytesOut);
      }),
      { numRuns: 100 },
    );
  });

  it("prekey and identity records round-trip", () => {
    fc.assert(
      fc.property(
        u32,
        bytes(33),
        bytes(32),
        bytes(64),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.boolean(),
        fc.array(fc.record({ signedPreKeyId: u32, baseKey: bytes(33) }), { maxLength: 3 }),
        (id, pub, priv, sig, createdAtMs, lastResort, used) => {
          const pre = create(PreKeyRecordSchema, { id, publicKey: pub, privateKey: priv });
          expect(equals(PreKeyRecordSchema, parsePreKeyRecord(serializePreKeyRecord(pre)), pre)).toBe(true);
          const signed = create(SignedPreKeyRecordSchema, { id, publicKey: pub, privateKey: priv, signature: sig, createdAtMs });
          expect(equals(SignedPreKeyRecordSchema, parseSignedPreKeyRecord(serializeSignedPreKeyRecord(signed)), signed)).toBe(true);
          const kyber = create(KyberPreKeyRecordSchema, {
            id,
            publicKey: pub,
            secretKey: priv,
            signature: sig,
            createdAtMs,
            lastResort,
            usedBaseKeys: used.map((u) => create(UsedBaseKeySchema, u)),
          });
          expect(equals(KyberPreKeyRecordSchema, parseKyberPreKeyRecord(serializeKyberPreKeyRecord(kyber)), kyber)).toBe(true);
          const trusted = create(TrustedIdentityRecordSchema, {
            address: priv.slice(0, 16),
            identityKey: pub,
            verification: VerificationState.VERIFIED,
            firstSeenMs: createdAtMs,
          });
          expect(equals(TrustedIdentityRecordSchema, parseTrustedIdentityRecord(serializeTrustedIdentityRecord(trusted)), trusted)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("corrupt bytes give a record or ProtocolError \"invalid_message\", never another exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
        try {
          parseSessionRecord(garbage);
        } catch (e) {
          expect(isProtocolError(e, "invalid_message")).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
