/**
 * KeyService: prekey uploads (verified, all-or-nothing, capped), counts, and atomic bundle
 * handout with the last-resort Kyber fallback and a per-(requester, target) rate limit
 * (keys.proto, spec/10-relay-api.md API-06..API-09).
 *
 * Owns: upload validation and the mapping between wire and store records. Does not own the
 * atomicity of handout (RelayStore.takePreKeyBundle) or signature verification (RelayCrypto).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  FetchPreKeyBundleResponseSchema,
  GetPreKeyCountsResponseSchema,
  KeyService,
  PreKeyCountsSchema,
  UploadPreKeysResponseSchema,
  type KyberPreKey,
  type PreKeyCounts,
  type SignedPreKey,
} from "../../gen/securecomm/relay/v1/keys_pb.js";
import { authenticate } from "../auth.js";
import { relayError } from "../errors.js";
import { keyOf } from "../hub/subscription.js";
import { PreKeyCapacityError, type PreKeyCountsRecord, type PreKeyUpload, type SignedKeyRecord } from "../store/relay-store.js";
import { unary, type RelayContext } from "./context.js";
import {
  ADDRESS_BYTES,
  EC_KEY_TYPE,
  EC_PUBLIC_KEY_BYTES,
  KYBER_KEY_TYPE,
  KYBER_PUBLIC_KEY_BYTES,
  requireLength,
  SIGNATURE_BYTES,
} from "./validate.js";

/** Device id served in bundles: one device per account in this version (keys.proto). */
export const DEVICE_ID = 1;

function checkKey(publicKey: Uint8Array, length: number, type: number): void {
  if (publicKey.length !== length || publicKey[0] !== type) throw relayError("BAD_PREKEY");
}

function checkSigned(k: SignedPreKey | KyberPreKey, length: number, type: number): SignedKeyRecord {
  checkKey(k.publicKey, length, type);
  if (k.signature.length !== SIGNATURE_BYTES) throw relayError("BAD_SIGNATURE_LENGTH");
  return { id: k.id, publicKey: k.publicKey, signature: k.signature };
}

function noDuplicateIds(ids: readonly number[]): void {
  if (new Set(ids).size !== ids.length) throw relayError("DUPLICATE_PREKEY_ID");
}

function countsMessage(c: PreKeyCountsRecord, refillThreshold: number): PreKeyCounts {
  return create(PreKeyCountsSchema, {
    oneTimePreKeys: c.oneTimePreKeys,
    kyberPreKeys: c.kyberPreKeys,
    hasSignedPreKey: c.signedPreKeyId !== undefined,
    hasLastResortKyberPreKey: c.hasLastResortKyberPreKey,
    signedPreKeyId: c.signedPreKeyId ?? 0,
    refillThreshold,
  });
}

/** The KeyService implementation (spec/10-relay-api.md API-06..API-09). */
export function createKeyService(rc: RelayContext): ServiceImpl<typeof KeyService> {
  return {
    uploadPreKeys: unary(rc, async (req, ctx) => {
      const address = await authenticate(ctx.requestHeader, rc.store, rc.now());
      const max = rc.limits.maxPreKeysPerUpload;
      if (req.oneTimePreKeys.length > max || req.kyberPreKeys.length > max) throw relayError("TOO_MANY_PREKEYS");
      // Shape first (cheap), then signatures (costly), then one atomic write.
      const upload: PreKeyUpload = {
        oneTimePreKeys: req.oneTimePreKeys.map((k) => {
          checkKey(k.publicKey, EC_PUBLIC_KEY_BYTES, EC_KEY_TYPE);
          return { id: k.id, publicKey: k.publicKey };
        }),
        kyberPreKeys: req.kyberPreKeys.map((k) => checkSigned(k, KYBER_PUBLIC_KEY_BYTES, KYBER_KEY_TYPE)),
      };
      if (req.signedPreKey) upload.signedPreKey = checkSigned(req.signedPreKey, EC_PUBLIC_KEY_BYTES, EC_KEY_TYPE);
      if (req.lastResortKyberPreKey) {
        upload.lastResortKyberPreKey = checkSigned(req.lastResortKyberPreKey, KYBER_PUBLIC_KEY_BYTES, KYBER_KEY_TYPE);
      }
      noDuplicateIds(upload.oneTimePreKeys.map((k) => k.id));
      noDuplicateIds(upload.kyberPreKeys.map((k) => k.id));
      const account = await rc.store.getAccount(address);
      if (!account) throw relayError("BAD_TOKEN");
      const signed: SignedKeyRecord[] = [...upload.kyberPreKeys];
      if (upload.signedPreKey) signed.push(upload.signedPreKey);
      if (upload.lastResortKyberPreKey) signed.push(upload.lastResortKyberPreKey);
      for (const k of signed) {
        if (!(await rc.crypto.verifyPreKeySignature(account.identityKey, k.publicKey, k.signature))) {
          throw relayError("BAD_PREKEY_SIGNATURE");
        }
      }
      try {
        const counts = await rc.store.storePreKeys(address, upload, rc.limits.maxStoredPreKeysPerKind);
        return create(UploadPreKeysResponseSchema, { counts: countsMessage(counts, rc.limits.preKeyRefillThreshold) });
      } catch (err) {
        if (err instanceof PreKeyCapacityError) throw relayError("PREKEY_STORE_FULL");
        throw err;
      }
    }),

    getPreKeyCounts: unary(rc, async (_req, ctx) => {
      const address = await authenticate(ctx.requestHeader, rc.store, rc.now());
      const counts = await rc.store.getPreKeyCounts(address);
      return create(GetPreKeyCountsResponseSchema, { counts: countsMessage(counts, rc.limits.preKeyRefillThreshold) });
    }),

    fetchPreKeyBundle: unary(rc, async (req, ctx) => {
      const now = rc.now();
      const requester = await authenticate(ctx.requestHeader, rc.store, now);
      requireLength(req.address, ADDRESS_BYTES, "BAD_ADDRESS");
      const decision = await rc.rateLimiters.bundleFetches.take(`${keyOf(requester)}:${keyOf(req.address)}`, now);
      if (!decision.allowed) throw relayError("RATE_LIMITED", decision.retryAfterMs);
      const bundle = await rc.store.takePreKeyBundle(req.address);
      if (!bundle) return create(FetchPreKeyBundleResponseSchema, { result: { case: "notRegistered", value: {} } });
      if (bundle.oneTimePreKey) rc.metrics.preKeysHandedOut.inc({ kind: "ec" });
      rc.metrics.preKeysHandedOut.inc({ kind: bundle.kyberPreKeyIsLastResort ? "kyber_last_resort" : "kyber" });
      return create(FetchPreKeyBundleResponseSchema, {
        result: {
          case: "bundle",
          value: {
            identityKey: bundle.identityKey,
            registrationId: bundle.registrationId,
            deviceId: DEVICE_ID,
            signedPreKey: bundle.signedPreKey,
            ...(bundle.oneTimePreKey ? { oneTimePreKey: bundle.oneTimePreKey } : {}),
            kyberPreKey: bundle.kyberPreKey,
            kyberPreKeyIsLastResort: bundle.kyberPreKeyIsLastResort,
          },
        },
      });
    }),
  };
}
