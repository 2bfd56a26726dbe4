/**
 * The client's one protocol error type.
 *
 * Owns: `ProtocolError`, its string-literal `code` union and the fixed sentence for each code.
 * Does not own: misuse errors (wrong argument types or sizes from our own code throw
 * `TypeError`/`RangeError`), relay errors (Connect codes, mapped in `relay/`).
 *
 * Messages are fixed sentences: they never contain key bytes, plaintext or identifiers, so an
 * error can be logged or shown without leaking anything (STYLE.md, Errors).
 */

/**
 * Every way a protocol operation on untrusted input can fail. Others may append codes; each
 * new code needs a sentence in `MESSAGES` below.
 */
export type ProtocolErrorCode =
  | "invalid_key"
  | "invalid_signature"
  | "invalid_message"
  | "bad_mac"
  | "duplicate_message"
  | "counter_too_large"
  | "no_session"
  | "untrusted_identity"
  | "missing_prekey"
  | "invalid_version"
  | "invalid_certificate"
  | "expired_certificate"
  | "no_sender_key"
  | "invalid_padding"
  | "invalid_ciphertext"
  | "attachment_truncated"
  | "attachment_digest_mismatch"
  | "attachment_bad_padding"
  | "attachment_invalid_pointer"
  | "attachment_unavailable";

/** One fixed sentence per code; no variable content ever enters a message. */
const MESSAGES: Readonly<Record<ProtocolErrorCode, string>> = {
  invalid_key: "A key was malformed or unusable.",
  invalid_signature: "A signature did not verify.",
  invalid_message: "A message was malformed.",
  bad_mac: "A message failed authentication.",
  duplicate_message: "A message was already received.",
  counter_too_large: "A message counter is too far ahead.",
  no_session: "There is no session for this peer.",
  untrusted_identity: "A peer's identity key is not trusted.",
  missing_prekey: "A required prekey is missing.",
  invalid_version: "A message has an unsupported version.",
  invalid_certificate: "A certificate is invalid.",
  expired_certificate: "A certificate has expired.",
  no_sender_key: "There is no sender key for this sender.",
  invalid_padding: "Padding is malformed.",
  invalid_ciphertext: "A ciphertext was malformed.",
  attachment_truncated: "An attachment does not have the size its message announced.",
  attachment_digest_mismatch: "An attachment is not the file its message named.",
  attachment_bad_padding: "An attachment's padding is malformed.",
  attachment_invalid_pointer: "An attachment pointer is malformed.",
  attachment_unavailable: "An attachment is not available from the relay.",
};

/**
 * A protocol failure on untrusted input, identified by `code`; the message is the fixed
 * sentence for that code (STYLE.md, Errors).
 */
export class ProtocolError extends Error {
  /** Which failure this is; switch on this, never on the message. */
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, options?: { cause?: unknown }) {
    super(MESSAGES[code], options);
    this.name = "ProtocolError";
    this.code = code;
  }
}

/**
 * Narrowing guard: true when `e` is a `ProtocolError` (and, if `code` is given, has that code).
 */
export function isProtocolError(e: unknown, code?: ProtocolErrorCode): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}
