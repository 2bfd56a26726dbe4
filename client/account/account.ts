/**
 * The account lifecycle against one relay (spec API-02..API-05, ID-09, ID-10, SS-05, SS-09).
 *
 * Owns: `Account`: authentication by challenge-response (the bearer token lives in memory
 * only and is renewed before expiry or on `unauthenticated`), the delivery token, pinning the
 * relay's trust root on first contact, fetching the sender certificate and refreshing it
 * within 24 hours of expiry, prekey upload and refill below the relay's threshold, and
 * signed-prekey / last-resort Kyber rotation every 7 days with 30-day retention of replaced
 * keys. Does not own: storage (StateStore transactions), rooms.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { concatBytes, constantTimeEqual, randomBytes, utf8 } from "../crypto/bytes.js";
import { PublicKey } from "../crypto/curve.js";
import { sha256 } from "../crypto/kdf.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import {
  createKyberPreKey,
  createOneTimePreKeys,
  createSignedPreKey,
  kyberPreKeyUpload,
  preKeyUpload,
  signedPreKeyUpload,
} from "../keys/prekeys.js";
import type { KvProtocolStore } from "../store/protocol-store.js";
import type { StateStore } from "../store/state-store.js";
import type { RelayClients } from "../relay/relay-clients.js";
import type { PreKeyCounts } from "../../gen/securecomm/relay/v1/keys_pb.js";
import type { KyberPreKeyRecord } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { ErrorInfoSchema } from "../../gen/securecomm/relay/v1/errors_pb.js";
import { type AccountRecord, parseAccountRecord, serializeAccountRecord } from "./account-record.js";
import { solveWork } from "./work.js";

/** The relay's ErrorInfo reason on a Connect error (spec API-24), if any. */
function relayReason(e: ConnectError): string | undefined {
  return e.findDetails(ErrorInfoSchema)[0]?.reason;
}

/** Domain-separation prefix of the relay authentication signature (API-02). */
export const AUTH_LABEL = utf8("SecureComm relay auth v1");
/** Refill target (ID-09): bring each one-time kind back to 100. */
export const PREKEY_TARGET = 100;
/** Refill below this when the relay does not say (ID-09 default threshold). */
export const DEFAULT_REFILL_THRESHOLD = 20;
/** Signed prekeys and last-resort Kyber prekeys are replaced every 7 days (ID-10). */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600 * 1000;
/** Replaced signed / last-resort keys are kept 30 days (ID-10). */
export const RETIRED_KEY_RETENTION_MS = 30 * 24 * 3600 * 1000;
/** Fetch a new sender certificate when the cached one expires within 24 hours (SS-09). */
export const CERTIFICATE_REFRESH_MARGIN_MS = 24 * 3600 * 1000;
/** Renew the bearer token this long before its expiry (API-03: tokens live 24 h). */
export const TOKEN_REFRESH_MARGIN_MS = 3600 * 1000;
/** The relay's default room retention (API-23), used until GetRelayInfo says otherwise. */
export const DEFAULT_ROOM_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Prekey ids start at a random value in 1..0xFFFFFF (ID-13). */
const MAX_ID = 0xffffff;

/** The KV key of the account record. */
export const ACCOUNT_KEY = "account/record";

/** Draws a starting prekey id in 1..0xFFFFFF (ID-13). */
function randomStartId(): number {
  const b = randomBytes(4);
  return (((b[0]! << 16) | (b[1]! << 8) | b[2]!) % MAX_ID) + 1;
}

/** Next id after `id`, wrapping within 1..0xFFFFFF (ID-13). */
function nextId(id: number, by = 1): number {
  return ((id - 1 + by) % MAX_ID) + 1;
}

/** A fresh account record with a new delivery token (RM-04). */
export function newAccountRecord(displayName: string): AccountRecord {
  return {
    displayName,
    deliveryToken: randomBytes(32),
    deliveryTokenRegistered: false,
    senderCertificateExpiresMs: 0,
    nextPreKeyId: randomStartId(),
    nextKyberPreKeyId: randomStartId(),
    nextSignedPreKeyId: randomStartId(),
    signedPreKeyId: 0,
    lastResortKyberPreKeyId: 0,
    signedPreKeyRotatedMs: 0,
    retired: [],
  };
}

/** The account against one relay. */
export class Account {
  readonly #state: StateStore;
  readonly #store: KvProtocolStore;
  readonly #clients: RelayClients;
  readonly #identity: IdentityKeyPair;
  readonly #now: () => number;
  #token: Uint8Array | undefined;
  /** The relay's room retention (API-20, RM-19), learnt from GetRelayInfo; 7 days until then. */
  #roomRetentionMs = DEFAULT_ROOM_RETENTION_MS;
  #tokenExpiresMs = 0;

  constructor(p: { state: StateStore; store: KvProtocolStore; clients: RelayClients; identity: IdentityKeyPair; now: () => number }) {
    this.#state = p.state;
    this.#store = p.store;
    this.#clients = p.clients;
    this.#identity = p.identity;
    this.#now = p.now;
  }

  /** The bearer token, if authenticated (read by the transport's interceptor). */
  get token(): Uint8Array | undefined {
    return this.#token;
  }

  /** The account record (throws TypeError before `ensureRecord`). */
  get record(): AccountRecord {
    const bytes = this.#state.get(ACCOUNT_KEY);
    if (bytes === undefined) throw new TypeError("no account record");
    return parseAccountRecord(bytes);
  }

  /** Writes the record in a transaction of its own. */
  async update(fn: (r: AccountRecord) => void): Promise<AccountRecord> {
    return this.#state.transaction(async (t) => {
      const bytes = t.get(ACCOUNT_KEY);
      if (bytes === undefined) throw new TypeError("no account record");
      const r = parseAccountRecord(bytes);
      fn(r);
      t.put(ACCOUNT_KEY, serializeAccountRecord(r));
      return r;
    });
  }

  /** The pinned trust root (SS-05); undefined before first contact. */
  get trustRoot(): PublicKey | undefined {
    const tr = this.record.trustRoot;
    return tr === undefined ? undefined : PublicKey.deserialize(tr);
  }

  /** Challenge-response (API-02): obtains a bearer token; one retry on a dropped connection. */
  async authenticate(): Promise<void> {
    try {
      await this.#authenticateOnce();
    } catch (e) {
      if (!(e instanceof ConnectError && e.code === Code.Unknown && e.cause instanceof TypeError)) throw e;
      await this.#authenticateOnce();
    }
  }

  async #authenticateOnce(): Promise<void> {
    try {
      await this.#prove(false);
    } catch (e) {
      // API-28: the relay wants work only when this proof would create the account; the
      // challenge is used up, so solve a fresh one.
      if (!(e instanceof ConnectError && e.code === Code.FailedPrecondition && relayReason(e) === "WORK_REQUIRED")) throw e;
      await this.#prove(true);
    }
  }

  async #prove(withWork: boolean): Promise<void> {
    const identityKey = this.#identity.publicKey.serialize();
    const ch = await this.#clients.account.createChallenge({ identityKey });
    const signature = this.#identity.privateKey.sign(concatBytes(AUTH_LABEL, ch.challenge, identityKey));
    const workNonce = withWork && ch.workBits > 0 ? await solveWork(ch.challenge, identityKey, ch.workBits) : new Uint8Array(0);
    const res = await this.#clients.account.proveIdentity({
      identityKey,
      challenge: ch.challenge,
      signature,
      registrationId: this.#identity.registrationId,
      workNonce,
    });
    this.#token = res.token;
    this.#tokenExpiresMs = Number(res.expiresAtMs);
  }

  /** Runs `fn`, authenticating first if needed and once more on `unauthenticated` (API-03). */
  async authed<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#token === undefined || this.#tokenExpiresMs - TOKEN_REFRESH_MARGIN_MS <= this.#now()) await this.authenticate();
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ConnectError && e.code === Code.Unauthenticated) {
        await this.authenticate();
        return fn();
      }
      throw e;
    }
  }

  /**
   * Everything the account needs before it can chat, idempotent and cheap when done: trust
   * root pinned (SS-05), token, delivery token registered (RM-04), prekeys published and
   * topped up (ID-09), signed prekey rotated when due (ID-10), certificate fresh (SS-09).
   */
  async upkeep(): Promise<void> {
    await this.#pinTrustRoot();
    await this.authed(async () => {
      if (!this.record.deliveryTokenRegistered) {
        await this.#clients.account.setDeliveryToken({ deliveryTokenHash: sha256(this.record.deliveryToken) });
        await this.update((r) => void (r.deliveryTokenRegistered = true));
      }
    });
    await this.refillPreKeys();
    await this.senderCertificate();
  }

  /** How long the relay keeps room events (RM-14: previous secrets are deleted after it). */
  get roomRetentionMs(): number {
    return this.#roomRetentionMs;
  }

  async #pinTrustRoot(): Promise<void> {
    const info = await this.#clients.info.getRelayInfo({});
    const seconds = info.limits?.roomRetentionSeconds ?? 0;
    if (seconds > 0) this.#roomRetentionMs = seconds * 1000;
    const pinned = this.record.trustRoot;
    if (pinned === undefined) {
      PublicKey.deserialize(info.trustRootPublicKey);
      await this.update((r) => void (r.trustRoot = info.trustRootPublicKey));
    } else if (!constantTimeEqual(pinned, info.trustRootPublicKey)) {
      // SS-05: a different trust root is never accepted silently.
      throw new TypeError("The relay presented a different trust root than the pinned one.");
    }
  }

  /** The current sender certificate, fetched when missing or expiring within 24 h (SS-09). */
  async senderCertificate(): Promise<Uint8Array> {
    const r = this.record;
    if (r.senderCertificate !== undefined && r.senderCertificateExpiresMs - CERTIFICATE_REFRESH_MARGIN_MS > this.#now()) {
      return r.senderCertificate;
    }
    const res = await this.authed(() => this.#clients.account.getSenderCertificate({}));
    await this.update((rec) => {
      rec.senderCertificate = res.senderCertificate;
      rec.senderCertificateExpiresMs = Number(res.expiresAtMs);
    });
    return res.senderCertificate;
  }

  /**
   * Publishes missing keys (ID-04..ID-06), rotates the signed and last-resort keys when due
   * (ID-10), and tops up one-time EC and Kyber prekeys below the threshold (ID-09). Private
   * keys are stored before the upload.
   */
  async refillPreKeys(): Promise<PreKeyCounts | undefined> {
    const counts = (await this.authed(() => this.#clients.keys.getPreKeyCounts({}))).counts;
    const threshold = counts?.refillThreshold || DEFAULT_REFILL_THRESHOLD;
    const now = this.#now();
    const r = this.record;
    const rotate =
      counts === undefined ||
      !counts.hasSignedPreKey ||
      !counts.hasLastResortKyberPreKey ||
      counts.signedPreKeyId !== r.signedPreKeyId ||
      now - r.signedPreKeyRotatedMs >= SIGNED_PREKEY_ROTATION_MS;
    const ecNeeded = (counts?.oneTimePreKeys ?? 0) < threshold ? PREKEY_TARGET - (counts?.oneTimePreKeys ?? 0) : 0;
    const kyberNeeded = (counts?.kyberPreKeys ?? 0) < threshold ? PREKEY_TARGET - (counts?.kyberPreKeys ?? 0) : 0;
    if (!rotate && ecNeeded <= 0 && kyberNeeded <= 0) return counts;

    const ec = ecNeeded > 0 ? createOneTimePreKeys(r.nextPreKeyId, ecNeeded) : [];
    const kyber: KyberPreKeyRecord[] = [];
    for (let i = 0; i < Math.max(kyberNeeded, 0); i++) kyber.push(createKyberPreKey(this.#identity, nextId(r.nextKyberPreKeyId, i), now));
    let nextKyber = nextId(r.nextKyberPreKeyId, kyber.length);
    const signed = rotate ? createSignedPreKey(this.#identity, r.nextSignedPreKeyId, now) : undefined;
    const lastResort = rotate ? createKyberPreKey(this.#identity, nextKyber, now, { lastResort: true }) : undefined;
    if (lastResort !== undefined) nextKyber = nextId(nextKyber);

    // Private keys first (ID-09), in one transaction with the counters.
    await this.#state.transaction(async (t) => {
      for (const k of ec) await this.#store.storePreKey(k);
      for (const k of kyber) await this.#store.storeKyberPreKey(k);
      if (signed !== undefined) await this.#store.storeSignedPreKey(signed);
      if (lastResort !== undefined) await this.#store.storeKyberPreKey(lastResort);
      const rec = parseAccountRecord(t.get(ACCOUNT_KEY)!);
      rec.nextPreKeyId = nextId(rec.nextPreKeyId, ec.length);
      rec.nextKyberPreKeyId = nextKyber;
      if (signed !== undefined) rec.nextSignedPreKeyId = nextId(rec.nextSignedPreKeyId);
      t.put(ACCOUNT_KEY, serializeAccountRecord(rec));
    });
    const res = await this.authed(() =>
      this.#clients.keys.uploadPreKeys({
        oneTimePreKeys: ec.map(preKeyUpload),
        kyberPreKeys: kyber.map(kyberPreKeyUpload),
        ...(signed !== undefined ? { signedPreKey: signedPreKeyUpload(signed) } : {}),
        ...(lastResort !== undefined ? { lastResortKyberPreKey: kyberPreKeyUpload(lastResort) } : {}),
      }),
    );
    // Uploaded: make the new keys current, retire the old ones, forget those past retention.
    await this.#state.transaction(async (t) => {
      const rec = parseAccountRecord(t.get(ACCOUNT_KEY)!);
      if (signed !== undefined && lastResort !== undefined) {
        if (rec.signedPreKeyId !== 0) rec.retired.push({ kind: "signed", id: rec.signedPreKeyId, atMs: now });
        if (rec.lastResortKyberPreKeyId !== 0) rec.retired.push({ kind: "kyber", id: rec.lastResortKyberPreKeyId, atMs: now });
        rec.signedPreKeyId = signed.id;
        rec.lastResortKyberPreKeyId = lastResort.id;
        rec.signedPreKeyRotatedMs = now;
      }
      const keep = [];
      for (const old of rec.retired) {
        if (now - old.atMs < RETIRED_KEY_RETENTION_MS) keep.push(old);
        else if (old.kind === "signed") this.#store.removeSignedPreKey(old.id);
        else this.#store.removeKyberPreKey(old.id);
      }
      rec.retired = keep;
      t.put(ACCOUNT_KEY, serializeAccountRecord(rec));
    });
    return res.counts;
  }

  /** Deletes the relay account (API-04). */
  async deleteAccount(): Promise<void> {
    await this.authed(() => this.#clients.account.deleteAccount({}));
    this.#token = undefined;
  }
}
