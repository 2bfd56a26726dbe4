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

/** Targets remembered as handout-limited per process (API-29): bounds that memory. */
const MAX_LIMITED_TARGETS_TRACKED = 10_000;

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

function countsMessage(c: PreKeyCountsRecord, refillThreshold: number, handoutLimited: boolean): PreKeyCounts {
  return create(PreKeyCountsSchema, {
    handoutLimited,
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
  // Targets whose handout budget this process found spent, with when it refills a token
  // (API-29). Process-local and bounded: it only feeds PreKeyCounts.handout_limited.
  const limitedUntil = new Map<string, number>();
  const markLimited = (address: Uint8Array, untilMs: number): void => {
    const k = keyOf(address);
    limitedUntil.delete(k);
    limitedUntil.set(k, untilMs);
    if (limitedUntil.size > MAX_LIMITED_TARGETS_TRACKED) {
      const oldest = limitedUntil.keys().next();
      if (!oldest.done) limitedUntil.delete(oldest.value);
    }
  };
  /** Whether the account's one-time handout budget was found spent and has not refilled yet. */
  const handoutLimited = (address: Uint8Array): boolean => (limitedUntil.get(keyOf(address)) ?? 0) > rc.now();
  /** Tells the owner's streams on every process to refill, at most once a minute (API-29). */
  const noticeLow = async (address: Uint8Array, limited: boolean): Promise<void> => {
    if ((await rc.rateLimiters.preKeysLowNotices.take(keyOf(address), rc.now())).allowed) rc.feed.preKeysLow(address, limited);
  };
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
        return create(UploadPreKeysResponseSchema, { counts: countsMessage(counts, rc.limits.preKeyRefillThreshold, handoutLimited(address)) });
      } catch (err) {
        if (err instanceof PreKeyCapacityError) throw relayError("PREKEY_STORE_FULL");
        throw err;
      }
    }),

    getPreKeyCounts: unary(rc, async (_req, ctx) => {
      const address = await authenticate(ctx.requestHeader, rc.store, rc.now());
      const counts = await rc.store.getPreKeyCounts(address);
      return create(GetPreKeyCountsResponseSchema, { counts: countsMessage(counts, rc.limits.preKeyRefillThreshold, handoutLimited(address)) });
    }),

    fetchPreKeyBundle: unary(rc, async (req, ctx) => {
      const now = rc.now();
      const requester = await authenticate(ctx.requestHeader, rc.store, now);
      requireLength(req.address, ADDRESS_BYTES, "BAD_ADDRESS");
      const decision = await rc.rateLimiters.bundleFetches.take(`${keyOf(requester)}:${keyOf(req.address)}`, now);
      if (!decision.allowed) throw relayError("RATE_LIMITED", decision.retryAfterMs);
      // API-29: one-time prekeys of one target are handed out at a bounded rate across all
      // requesters; past it the bundle falls back to the last-resort Kyber key, no one-time EC.
      const budget = await rc.rateLimiters.oneTimePreKeyHandouts.take(keyOf(req.address), now);
      const bundle = await rc.store.takePreKeyBundle(req.address, budget.allowed);
      if (!bundle) return create(FetchPreKeyBundleResponseSchema, { result: { case: "notRegistered", value: {} } });
      if (bundle.oneTimePreKey) rc.metrics.preKeysHandedOut.inc({ kind: "ec" });
      rc.metrics.preKeysHandedOut.inc({ kind: bundle.kyberPreKeyIsLastResort ? "kyber_last_resort" : "kyber" });
      if (!budget.allowed) {
        rc.metrics.preKeyHandoutsLimited.inc();
        markLimited(req.address, now + budget.retryAfterMs);
        await noticeLow(req.address, true);
      } else if (!bundle.oneTimePreKey || bundle.kyberPreKeyIsLastResort) {
        await noticeLow(req.address, false);
      } else {
        const left = await rc.store.getPreKeyCounts(req.address);
        if (Math.min(left.oneTimePreKeys, left.kyberPreKeys) < rc.limits.preKeyRefillThreshold) await noticeLow(req.address, false);
      }
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
