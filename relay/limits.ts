/**
 * Relay limits: every cap, lifetime and rate the relay enforces, as named constants with the
 * reason for each value, and the resolved configuration the services read.
 *
 * Owns: the defaults (spec/10-relay-api.md, "Limits") and their mapping to the wire
 * `securecomm.relay.v1.RelayLimits` message. Does not own parsing flags or environment
 * variables (relay/config.ts does that and passes a `Partial<RelayLimitsConfig>`).
 */
import { create } from "@bufbuild/protobuf";
import { RelayLimitsSchema, type RelayLimits } from "../gen/securecomm/relay/v1/relay_info_pb.js";

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Largest sealed-sender or room envelope: 64 KiB holds a padded text message with room to spare; bigger payloads (attachments) belong elsewhere. */
export const MAX_ENVELOPE_BYTES = 65_536;
/** Most one-time prekeys of one kind per upload: Signal clients upload 100 at a time. */
export const MAX_PREKEYS_PER_UPLOAD = 100;
/** Most one-time prekeys of one kind stored per account: ten full uploads, so a hostile client cannot fill the disk. */
export const MAX_STORED_PREKEYS_PER_KIND = 1_000;
/** Most envelopes queued in one mailbox: a device offline for weeks in busy rooms stays well below it. */
export const MAX_MAILBOX_ENVELOPES = 10_000;
/** Most envelopes kept per room log; the oldest are dropped beyond it. */
export const MAX_ROOM_LOG_ENVELOPES = 100_000;
/** Mailbox retention: 30 days, as long as a phone may reasonably stay offline. */
export const MAILBOX_RETENTION_MS = 30 * DAY_MS;
/** Room log retention: 7 days, short on purpose (minimal metadata, DESIGN §4). */
export const ROOM_RETENTION_MS = 7 * DAY_MS;
/** Bearer token lifetime: 24 hours, so a leaked token is short-lived; clients re-prove cheaply. */
export const TOKEN_LIFETIME_MS = 24 * HOUR_MS;
/** Sender certificate lifetime: 7 days, long enough to send while offline from the relay's auth, short enough to bound a stolen one. */
export const SENDER_CERTIFICATE_LIFETIME_MS = 7 * DAY_MS;
/** Most events in one GetRoomHistory page: keeps one response under ~32 MiB at the envelope cap. */
export const MAX_HISTORY_PAGE = 500;
/** Most rooms on one Subscribe stream. */
export const MAX_ROOMS_PER_SUBSCRIPTION = 256;
/** Bundle fetches per requester and target per minute: enough for retries, too few to drain one-time prekeys. */
export const MAX_BUNDLE_FETCHES_PER_MINUTE = 30;
/** Clients refill a one-time prekey kind when fewer than this remain. */
export const PREKEY_REFILL_THRESHOLD = 20;
/** Most ids per AckMessages call. */
export const MAX_ACK_IDS = 1_000;
/** Challenge lifetime: 5 minutes covers a slow signing device. */
export const CHALLENGE_LIFETIME_MS = 5 * MINUTE_MS;
/** Keep-alive interval on Subscribe: below common 30–60 s idle timeouts of proxies. */
export const KEEP_ALIVE_INTERVAL_MS = 15 * SECOND_MS;
/** Events buffered per Subscribe stream before it is cut off as a slow consumer. */
export const MAX_SUBSCRIBER_BUFFER_EVENTS = 4_096;
/** Bytes buffered per Subscribe stream before it is cut off: bounds memory per stream to ~8 MiB. */
export const MAX_SUBSCRIBER_BUFFER_BYTES = 8 * 1024 * 1024;
/** Most envelopes coalesced into one stream message under load. */
export const MAX_COALESCED_EVENTS = 256;
/**
 * Most envelope bytes in one response message (a stream batch or a history page): 3 MiB stays
 * under the 4 MiB receive limit gRPC clients apply by default. One envelope always fits.
 */
export const MAX_RESPONSE_ENVELOPE_BYTES = 3 * 1024 * 1024;
/** Concurrent Subscribe streams per account: a few tabs, not an amplification tool. */
export const MAX_STREAMS_PER_ACCOUNT = 8;
/** Challenges per identity key per minute. */
export const MAX_CHALLENGES_PER_MINUTE = 20;
/** Identity proofs per identity key per minute: each needs a challenge anyway; this bounds signature checks. */
export const MAX_PROOFS_PER_MINUTE = 20;
/** Sender certificates per account per minute. */
export const MAX_SENDER_CERTIFICATES_PER_MINUTE = 30;
/** Rooms created per account per minute. */
export const MAX_ROOMS_CREATED_PER_MINUTE = 30;
/** Posts (stored and ephemeral) per room per minute: a busy room, with headroom for benchmarks to raise it. */
export const MAX_ROOM_POSTS_PER_MINUTE = 6_000;
/** Sealed sends per recipient mailbox per minute. */
export const MAX_SENDS_PER_MAILBOX_PER_MINUTE = 1_200;
/** How often the retention sweep runs. */
export const SWEEP_INTERVAL_MS = 10 * MINUTE_MS;

// --- Abuse limits (issue 11; spec/10-relay-api.md API-27..API-31, spec/11 SC-16..SC-19) ---

/**
 * Most open client connections (HTTP/1.1, h2c, TLS) in total. Below the common 1,024 file
 * descriptors with room for the database, WAL and listeners; the server also lowers it to
 * what the process's descriptor limit allows. At the cap a new connection evicts the
 * longest-idle connection that has no request in flight, or is refused if there is none.
 */
export const MAX_CONNECTIONS = 900;
/**
 * Most open connections from one source address: a browser opens one HTTP/2 or up to six
 * HTTP/1.1 connections, so 64 leaves room for a NAT with a few dozen users while one host
 * cannot take the whole total. Counted in memory only; addresses are never logged or stored.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 64;
/**
 * An HTTP/2 session with no frames either way for this long is closed (GOAWAY). Subscribe
 * streams send a keep-alive every 15 s, so only sessions with nothing in flight time out.
 */
export const H2_IDLE_TIMEOUT_MS = 60 * SECOND_MS;
/**
 * How long an HTTP/2 client has, after the connection preface, to send its SETTINGS and
 * acknowledge ours (RFC 9113 §6.5.3, SETTINGS_TIMEOUT). Real clients do it in one round trip.
 */
export const H2_SETTINGS_TIMEOUT_MS = 10 * SECOND_MS;
/**
 * Most unexpired challenges stored at once; beyond it the oldest are dropped (a client proves
 * within seconds of asking, so only a flood loses anything). Bounds the table under a flood of
 * CreateChallenge calls with fresh keys, which per-key rate limits cannot.
 */
export const MAX_STORED_CHALLENGES = 100_000;
/**
 * Leading zero bits a proof of work needs before ProveIdentity creates an account (API-28);
 * 0 turns the cost off. Off on loopback (development, tests); a relay bound to any other
 * address defaults to {@link PUBLIC_ACCOUNT_CREATION_WORK_BITS}.
 */
export const ACCOUNT_CREATION_WORK_BITS = 0;
/**
 * Default work for a relay reachable from other hosts: 2^20 SHA-256 evaluations on average,
 * about a second of one core in JavaScript: nothing for one person, a real cost per thousand
 * throwaway accounts.
 */
export const PUBLIC_ACCOUNT_CREATION_WORK_BITS = 20;
/** Largest accepted work setting: 2^32 hashes would stall real clients for hours. */
export const MAX_ACCOUNT_CREATION_WORK_BITS = 32;
/**
 * One-time prekeys (EC and Kyber) handed out per target account per hour, across all
 * requesters, with bursts up to the same number. Beyond it bundles carry no one-time EC key
 * and the last-resort Kyber key (still a valid PQXDH bundle), and the owner is told to refill
 * (API-29). 50 covers a popular account's new contacts; draining 200 keys takes hours.
 */
export const MAX_ONE_TIME_PREKEY_HANDOUTS_PER_HOUR = 50;
/**
 * Most envelope bytes queued in one account's mailbox: 128 MiB, a month offline in busy rooms,
 * far below the 625 MiB the envelope count cap alone would allow.
 */
export const MAX_MAILBOX_BYTES = 128 * 1024 * 1024;
/** Most envelope bytes kept in one room's log: 256 MiB, a week of a very busy room. */
export const MAX_ROOM_LOG_BYTES = 256 * 1024 * 1024;
/**
 * Most envelope bytes stored in all mailboxes and room logs together: 16 GiB, so a flood of
 * rooms or accounts fills a quota, not the disk. Operators size it to their disk.
 */
export const MAX_STORED_BYTES = 16 * 1024 * 1024 * 1024;
/**
 * Granularity of every time the relay stores (token expiry, account and room creation,
 * envelope storage and post times): floored to the hour, so stored times cannot single out
 * which account's token was issued just before a room was created or an event posted
 * (issue 11; SC-18). Retention still works to within this granularity.
 */
export const STORED_TIME_GRANULARITY_MS = HOUR_MS;

/**
 * Largest blob (API-61): the padded ciphertext RM-71 makes of a 100 MiB file (at most 5% of
 * padding plus 64 bytes of IV, PKCS#7 and MAC) fits with room to spare.
 */
export const MAX_BLOB_BYTES = 110 * 1024 * 1024;
/**
 * Largest upload chunk and download message (API-60): 2 MiB, so 100 MiB takes 50 calls (each
 * call costs a round trip and a commit: bench/attachments.ts), and a download message stays
 * well below gRPC's default 4 MiB receive limit. The BlobService alone reads requests this
 * large (plus framing); every other service keeps the 1 MiB cap.
 */
export const MAX_BLOB_CHUNK_BYTES = 2 * 1024 * 1024;
/** Most blob bytes one room holds at once (API-61): about twenty full-size files a month. */
export const MAX_ROOM_BLOB_BYTES = 2 * 1024 * 1024 * 1024;
/** Most blob bytes stored overall (API-61): operators size it to their disk. */
export const MAX_STORED_BLOB_BYTES = 64 * 1024 * 1024 * 1024;
/** Blob uploads started per room per minute (API-61): a burst of photos, not a flood. */
export const MAX_BLOB_UPLOADS_PER_MINUTE = 60;
/** How long an unfinished upload may take before it is deleted (API-65). */
export const BLOB_UPLOAD_WINDOW_MS = 24 * HOUR_MS;
/**
 * How long a complete blob is kept (API-65): 30 days, longer than room events (7 days), so
 * every pointer in a retained message can still be opened.
 */
export const BLOB_RETENTION_MS = 30 * 24 * HOUR_MS;

/** The resolved limits the relay enforces (spec/10-relay-api.md, "Limits"). */
export interface RelayLimitsConfig {
  maxEnvelopeBytes: number;
  maxPreKeysPerUpload: number;
  maxStoredPreKeysPerKind: number;
  maxMailboxEnvelopes: number;
  maxRoomLogEnvelopes: number;
  mailboxRetentionMs: number;
  roomRetentionMs: number;
  tokenLifetimeMs: number;
  senderCertificateLifetimeMs: number;
  maxHistoryPage: number;
  maxRoomsPerSubscription: number;
  maxBundleFetchesPerMinute: number;
  preKeyRefillThreshold: number;
  maxAckIds: number;
  challengeLifetimeMs: number;
  keepAliveIntervalMs: number;
  maxSubscriberBufferEvents: number;
  maxSubscriberBufferBytes: number;
  maxCoalescedEvents: number;
  maxResponseEnvelopeBytes: number;
  maxStreamsPerAccount: number;
  maxChallengesPerMinute: number;
  maxProofsPerMinute: number;
  maxSenderCertificatesPerMinute: number;
  maxRoomsCreatedPerMinute: number;
  maxRoomPostsPerMinute: number;
  maxSendsPerMailboxPerMinute: number;
  sweepIntervalMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  h2IdleTimeoutMs: number;
  h2SettingsTimeoutMs: number;
  maxStoredChallenges: number;
  /** 0 turns the proof of work off. */
  accountCreationWorkBits: number;
  maxOneTimePreKeyHandoutsPerHour: number;
  maxMailboxBytes: number;
  maxRoomLogBytes: number;
  maxStoredBytes: number;
  storedTimeGranularityMs: number;
  maxBlobBytes: number;
  maxBlobChunkBytes: number;
  maxRoomBlobBytes: number;
  maxStoredBlobBytes: number;
  maxBlobUploadsPerMinute: number;
  blobUploadWindowMs: number;
  blobRetentionMs: number;
}

/** The default limits (spec/10-relay-api.md, "Limits"). */
export const DEFAULT_RELAY_LIMITS: Readonly<RelayLimitsConfig> = Object.freeze({
  maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
  maxPreKeysPerUpload: MAX_PREKEYS_PER_UPLOAD,
  maxStoredPreKeysPerKind: MAX_STORED_PREKEYS_PER_KIND,
  maxMailboxEnvelopes: MAX_MAILBOX_ENVELOPES,
  maxRoomLogEnvelopes: MAX_ROOM_LOG_ENVELOPES,
  mailboxRetentionMs: MAILBOX_RETENTION_MS,
  roomRetentionMs: ROOM_RETENTION_MS,
  tokenLifetimeMs: TOKEN_LIFETIME_MS,
  senderCertificateLifetimeMs: SENDER_CERTIFICATE_LIFETIME_MS,
  maxHistoryPage: MAX_HISTORY_PAGE,
  maxRoomsPerSubscription: MAX_ROOMS_PER_SUBSCRIPTION,
  maxBundleFetchesPerMinute: MAX_BUNDLE_FETCHES_PER_MINUTE,
  preKeyRefillThreshold: PREKEY_REFILL_THRESHOLD,
  maxAckIds: MAX_ACK_IDS,
  challengeLifetimeMs: CHALLENGE_LIFETIME_MS,
  keepAliveIntervalMs: KEEP_ALIVE_INTERVAL_MS,
  maxSubscriberBufferEvents: MAX_SUBSCRIBER_BUFFER_EVENTS,
  maxSubscriberBufferBytes: MAX_SUBSCRIBER_BUFFER_BYTES,
  maxCoalescedEvents: MAX_COALESCED_EVENTS,
  maxResponseEnvelopeBytes: MAX_RESPONSE_ENVELOPE_BYTES,
  maxStreamsPerAccount: MAX_STREAMS_PER_ACCOUNT,
  maxChallengesPerMinute: MAX_CHALLENGES_PER_MINUTE,
  maxProofsPerMinute: MAX_PROOFS_PER_MINUTE,
  maxSenderCertificatesPerMinute: MAX_SENDER_CERTIFICATES_PER_MINUTE,
  maxRoomsCreatedPerMinute: MAX_ROOMS_CREATED_PER_MINUTE,
  maxRoomPostsPerMinute: MAX_ROOM_POSTS_PER_MINUTE,
  maxSendsPerMailboxPerMinute: MAX_SENDS_PER_MAILBOX_PER_MINUTE,
  sweepIntervalMs: SWEEP_INTERVAL_MS,
  maxConnections: MAX_CONNECTIONS,
  maxConnectionsPerAddress: MAX_CONNECTIONS_PER_ADDRESS,
  h2IdleTimeoutMs: H2_IDLE_TIMEOUT_MS,
  h2SettingsTimeoutMs: H2_SETTINGS_TIMEOUT_MS,
  maxStoredChallenges: MAX_STORED_CHALLENGES,
  accountCreationWorkBits: ACCOUNT_CREATION_WORK_BITS,
  maxOneTimePreKeyHandoutsPerHour: MAX_ONE_TIME_PREKEY_HANDOUTS_PER_HOUR,
  maxMailboxBytes: MAX_MAILBOX_BYTES,
  maxRoomLogBytes: MAX_ROOM_LOG_BYTES,
  maxStoredBytes: MAX_STORED_BYTES,
  storedTimeGranularityMs: STORED_TIME_GRANULARITY_MS,
  maxBlobBytes: MAX_BLOB_BYTES,
  maxBlobChunkBytes: MAX_BLOB_CHUNK_BYTES,
  maxRoomBlobBytes: MAX_ROOM_BLOB_BYTES,
  maxStoredBlobBytes: MAX_STORED_BLOB_BYTES,
  maxBlobUploadsPerMinute: MAX_BLOB_UPLOADS_PER_MINUTE,
  blobUploadWindowMs: BLOB_UPLOAD_WINDOW_MS,
  blobRetentionMs: BLOB_RETENTION_MS,
});

/** Limits for which 0 is a meaningful value ("off"), with their largest accepted value. */
export const ZERO_ALLOWED_LIMITS: Readonly<Partial<Record<keyof RelayLimitsConfig, number>>> = Object.freeze({
  accountCreationWorkBits: MAX_ACCOUNT_CREATION_WORK_BITS,
});

/** Floors `ms` to the stored-time granularity (SC-18): the only form in which times are stored. */
export function coarseTime(ms: number, granularityMs: number): number {
  return Math.floor(ms / granularityMs) * granularityMs;
}

/**
 * An expiry `lifetimeMs` after `nowMs`, floored like every stored time (SC-18) but never by more
 * than half the lifetime, so a short configured lifetime still leaves a usable token.
 */
export function coarseExpiry(nowMs: number, lifetimeMs: number, granularityMs: number): number {
  const g = Math.max(1, Math.min(granularityMs, Math.floor(lifetimeMs / 2)));
  return coarseTime(nowMs + lifetimeMs, g);
}

/**
 * Merges overrides onto the defaults and checks every value is a positive safe integer.
 * Throws RangeError on a bad value (misconfiguration, not client input).
 */
export function resolveLimits(overrides: Partial<RelayLimitsConfig> = {}): RelayLimitsConfig {
  const merged: RelayLimitsConfig = { ...DEFAULT_RELAY_LIMITS };
  for (const [key, value] of Object.entries(overrides) as [keyof RelayLimitsConfig, unknown][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_RELAY_LIMITS)) throw new RangeError(`unknown relay limit: ${String(key)}`);
    const zeroMax = ZERO_ALLOWED_LIMITS[key];
    if (zeroMax !== undefined) {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > zeroMax) {
        throw new RangeError(`relay limit ${key} must be an integer from 0 to ${zeroMax}`);
      }
    } else if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`relay limit ${key} must be a positive integer`);
    }
    merged[key] = value;
  }
  return merged;
}

const toSeconds = (ms: number): number => Math.min(0xffff_ffff, Math.floor(ms / SECOND_MS));

/** The wire form of the limits, as GetRelayInfo returns them (relay_info.proto RelayLimits). */
export function toRelayLimitsMessage(limits: RelayLimitsConfig): RelayLimits {
  return create(RelayLimitsSchema, {
    maxEnvelopeBytes: limits.maxEnvelopeBytes,
    maxPrekeysPerUpload: limits.maxPreKeysPerUpload,
    maxMailboxEnvelopes: limits.maxMailboxEnvelopes,
    maxRoomLogEnvelopes: limits.maxRoomLogEnvelopes,
    mailboxRetentionSeconds: toSeconds(limits.mailboxRetentionMs),
    roomRetentionSeconds: toSeconds(limits.roomRetentionMs),
    tokenLifetimeSeconds: toSeconds(limits.tokenLifetimeMs),
    senderCertificateLifetimeSeconds: toSeconds(limits.senderCertificateLifetimeMs),
    maxHistoryPage: limits.maxHistoryPage,
    maxRoomsPerSubscription: limits.maxRoomsPerSubscription,
    maxBundleFetchesPerMinute: limits.maxBundleFetchesPerMinute,
  });
}
