/**
 * Every relay failure, raised through this one module as a ConnectError.
 *
 * Owns: the stable reason strings (ErrorInfo.reason, spec/10-relay-api.md "Errors"), the
 * Connect code for each, the fixed message sentence for each, and RetryInfo details for rate
 * limits and full queues. Messages never echo request content, keys or identifiers.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "../gen/securecomm/relay/v1/errors_pb.js";
import { StoreUnavailableError } from "./store/relay-store.js";

/** Each reason with its Connect code and fixed message. */
export const RELAY_ERRORS = {
  // invalid_argument: malformed input.
  BAD_IDENTITY_KEY: [Code.InvalidArgument, "The identity key must be 33 bytes starting with 0x05."],
  BAD_CHALLENGE: [Code.InvalidArgument, "The challenge must be 32 bytes."],
  BAD_SIGNATURE_LENGTH: [Code.InvalidArgument, "A signature must be 64 bytes."],
  BAD_REGISTRATION_ID: [Code.InvalidArgument, "The registration id must be between 1 and 16380."],
  BAD_HASH: [Code.InvalidArgument, "A hash must be 32 bytes."],
  BAD_ADDRESS: [Code.InvalidArgument, "An address must be 16 bytes."],
  BAD_DELIVERY_TOKEN: [Code.InvalidArgument, "A delivery token must be 32 bytes."],
  BAD_ROOM_ID: [Code.InvalidArgument, "A room id must be 16 bytes."],
  BAD_ACCESS_KEY: [Code.InvalidArgument, "A room access key must be 32 bytes."],
  EMPTY_ENVELOPE: [Code.InvalidArgument, "The envelope is empty."],
  ENVELOPE_TOO_LARGE: [Code.InvalidArgument, "The envelope exceeds the relay's size limit."],
  BAD_PREKEY: [Code.InvalidArgument, "A prekey has the wrong length or type byte."],
  BAD_PREKEY_SIGNATURE: [Code.InvalidArgument, "A prekey signature does not verify."],
  DUPLICATE_PREKEY_ID: [Code.InvalidArgument, "A prekey id appears twice in one upload."],
  TOO_MANY_PREKEYS: [Code.InvalidArgument, "Too many prekeys in one upload."],
  TOO_MANY_ACK_IDS: [Code.InvalidArgument, "Too many ids in one acknowledgement."],
  TOO_MANY_ROOMS: [Code.InvalidArgument, "Too many rooms on one stream."],
  DUPLICATE_ROOM: [Code.InvalidArgument, "A room is listed twice on one stream."],
  BAD_WORK_NONCE: [Code.InvalidArgument, "A proof-of-work nonce must be 8 bytes."],
  BAD_BLOB_ID: [Code.InvalidArgument, "A blob id must be 32 bytes."],
  BAD_UPLOAD_TOKEN: [Code.InvalidArgument, "An upload token must be 32 bytes."],
  BAD_BLOB_SIZE: [Code.InvalidArgument, "The blob size is zero or exceeds the relay's limit."],
  BAD_CHUNK: [Code.InvalidArgument, "The chunk is empty, too large, or passes the blob's size."],
  BAD_BLOB_OFFSET: [Code.InvalidArgument, "The offset is past the end of the blob."],
  BAD_BOX_KEY: [Code.InvalidArgument, "An invite box key must be 32 bytes."],
  BAD_INVITE_BOX: [Code.InvalidArgument, "An invite box must be 1 to 256 bytes."],
  // unauthenticated
  MISSING_TOKEN: [Code.Unauthenticated, "A bearer token is required."],
  BAD_TOKEN: [Code.Unauthenticated, "The bearer token is unknown or expired."],
  BAD_CHALLENGE_PROOF: [Code.Unauthenticated, "The challenge is unknown, expired or already used."],
  BAD_SIGNATURE: [Code.Unauthenticated, "The signature does not verify."],
  // permission_denied
  DELIVERY_DENIED: [Code.PermissionDenied, "The delivery token is not accepted for this recipient."],
  ROOM_ACCESS_DENIED: [Code.PermissionDenied, "The room access key is not accepted."],
  UPLOAD_DENIED: [Code.PermissionDenied, "The upload is unknown, expired or finished, or the token is not accepted."],
  // failed_precondition
  WORK_REQUIRED: [Code.FailedPrecondition, "Creating an account needs a proof of work; solve a new challenge."],
  BLOB_OFFSET_MISMATCH: [Code.FailedPrecondition, "The chunk does not start where the upload stands; ask for the upload status."],
  // not_found
  ROOM_NOT_FOUND: [Code.NotFound, "No such room."],
  BLOB_NOT_FOUND: [Code.NotFound, "No such blob."],
  INVITE_NOT_FOUND: [Code.NotFound, "No invite box for this key: the invite link was reset or never existed."],
  // already_exists
  ROOM_EXISTS: [Code.AlreadyExists, "The room id is taken."],
  // resource_exhausted
  RATE_LIMITED: [Code.ResourceExhausted, "Too many requests; retry later."],
  MAILBOX_FULL: [Code.ResourceExhausted, "The recipient's mailbox is full; retry later."],
  PREKEY_STORE_FULL: [Code.ResourceExhausted, "The account holds the maximum number of prekeys."],
  SLOW_CONSUMER: [Code.ResourceExhausted, "The stream fell too far behind and was closed; subscribe again."],
  TOO_MANY_STREAMS: [Code.ResourceExhausted, "The account has too many open streams."],
  ROOM_FULL: [Code.ResourceExhausted, "The room's stored events reached the relay's byte quota; retry later."],
  STORAGE_FULL: [Code.ResourceExhausted, "The relay's storage quota is reached; retry later."],
  ROOM_BLOBS_FULL: [Code.ResourceExhausted, "The room's stored files reached the relay's byte quota; retry later."],
  // unavailable / internal
  SHUTTING_DOWN: [Code.Unavailable, "The relay is shutting down; retry later."],
  DATABASE_UNAVAILABLE: [Code.Unavailable, "The relay's database is unreachable; retry later."],
  INTERNAL: [Code.Internal, "The relay failed to process the request."],
} as const satisfies Record<string, readonly [Code, string]>;

/** A stable error reason (ErrorInfo.reason). */
export type RelayErrorReason = keyof typeof RELAY_ERRORS;

/** Reasons that carry a RetryInfo detail. */
const RETRYABLE: ReadonlySet<RelayErrorReason> = new Set([
  "RATE_LIMITED",
  "MAILBOX_FULL",
  "SLOW_CONSUMER",
  "TOO_MANY_STREAMS",
  "SHUTTING_DOWN",
  "DATABASE_UNAVAILABLE",
  "PREKEY_STORE_FULL",
  "ROOM_FULL",
  "STORAGE_FULL",
  "ROOM_BLOBS_FULL",
]);

/** Default wait suggested when a full queue (not a timed rate limit) refuses work. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * Builds the ConnectError for `reason` (spec/10-relay-api.md "Errors"): the mapped code, the
 * fixed message, an ErrorInfo detail and, for resource exhaustion, a RetryInfo detail.
 */
export function relayError(reason: RelayErrorReason, retryAfterMs?: number): ConnectError {
  const [code, message] = RELAY_ERRORS[reason];
  const details: ConstructorParameters<typeof ConnectError>[3] = [{ desc: ErrorInfoSchema, value: { reason } }];
  if (retryAfterMs !== undefined || RETRYABLE.has(reason)) {
    const wait = Math.max(1, Math.min(0xffff_ffff, Math.ceil(retryAfterMs ?? DEFAULT_RETRY_AFTER_MS)));
    details.push({ desc: RetryInfoSchema, value: { retryAfterMs: wait } });
  }
  return new ConnectError(message, code, undefined, details);
}

/** Reads the ErrorInfo reason of an error, if it is a relay ConnectError. */
export function errorReason(err: unknown): string | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  return err.findDetails(ErrorInfoSchema)[0]?.reason;
}

/** Reads the RetryInfo wait of an error, if any. */
export function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  return err.findDetails(RetryInfoSchema)[0]?.retryAfterMs;
}

/**
 * Converts anything thrown inside a handler into a ConnectError safe to return: relay errors
 * pass through, an unreachable database becomes DATABASE_UNAVAILABLE (`unavailable`: retry),
 * anything else becomes INTERNAL with no detail of the cause.
 */
export function toRelayError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof StoreUnavailableError) return relayError("DATABASE_UNAVAILABLE");
  return relayError("INTERNAL");
}
