/**
 * Every sentence the web app shows for a failure (STYLE.md, Errors: "the web maps codes to
 * messages; components never render raw error text").
 *
 * Owns: mapping `ProtocolError` codes, Connect codes and the app's own failure kinds to fixed,
 * plain sentences. Does not own: detecting failures (client/), or where a sentence is shown.
 * Nothing here ever includes an error's own message, a key, plaintext or an identifier.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { isProtocolError, type ProtocolErrorCode } from "../../../client/errors.js";
import { isInviteError } from "../../../client/app/securecomm-client.js";
import { MIN_PASSPHRASE_LENGTH } from "../../../client/vault/passphrase-policy.js";
import { isVaultError } from "../../../client/vault/profile-vault.js";

/** What the user was doing; picks the sentence when the failure itself says nothing useful. */
export type FailedAction =
  | "start"
  | "create-identity"
  | "create-room"
  | "join-room"
  | "send"
  | "leave-room"
  | "remove-member"
  | "safety-number"
  | "verify"
  | "accept-change"
  | "rename"
  | "delete-everything"
  | "copy-link"
  | "connect"
  | "use-here"
  | "unlock"
  | "set-passphrase"
  | "history"
  | "react"
  | "edit"
  | "delete-message"
  | "download"
  | "attach"
  | "record"
  | "reset-link";

/** The sentence when nothing more specific is known, per action. */
export const ACTION_SENTENCES: Readonly<Record<FailedAction, string>> = {
  start: "SecureComm could not open its local storage. Check that this browser allows site data, then reload.",
  "create-identity": "Your identity could not be set up. Check your connection and try again.",
  "create-room": "The room could not be created. Try again in a moment.",
  "join-room": "You could not join this room. The invite link may be incomplete or out of date.",
  send: "Your message was not sent. Try again.",
  react: "Your reaction was not sent. Try again.",
  edit: "Your edit was not sent. Try again.",
  "delete-message": "The message could not be deleted. Try again.",
  "leave-room": "You could not leave the room right now. Try again.",
  "remove-member": "The member could not be removed. Try again.",
  "safety-number": "The safety number could not be computed for this member.",
  verify: "The member could not be marked as verified. Try again.",
  "accept-change": "The new safety number could not be accepted. Try again.",
  rename: "Your display name could not be changed. Try again.",
  "delete-everything": "Not everything could be deleted. Try again, or clear this site's data in your browser settings.",
  "copy-link": "The link could not be copied automatically. Select it and copy it yourself.",
  connect: "The relay cannot be reached. SecureComm keeps retrying on its own.",
  "use-here": "SecureComm could not start in this tab. Close its other tabs, then reload this one.",
  unlock: "That is not the passphrase of this browser's SecureComm.",
  "set-passphrase": "The passphrase could not be saved. Try again.",
  history: "The history could not be changed. Try again.",
  download: "The file could not be downloaded. Try again.",
  attach: "The file could not be sent. Files can be up to 100 MB, four at a time.",
  record: "The microphone could not be used. Check that this site may use it.",
  "reset-link": "The invite link could not be reset. Try again.",
};

/** Sentences for protocol failures the user can meet (client/errors.ts codes). */
export const PROTOCOL_SENTENCES: Readonly<Record<ProtocolErrorCode, string>> = {
  invalid_key: "A key received from the network was not valid, so nothing was changed.",
  invalid_signature: "A signature did not check out, so the data was refused.",
  invalid_message: "Something received was malformed and was ignored.",
  bad_mac: "A message failed its integrity check and was ignored.",
  duplicate_message: "That message had already arrived.",
  counter_too_large: "A message arrived too far out of order to decrypt.",
  no_session: "There is no secure session with this member yet. Wait a moment and try again.",
  untrusted_identity: "A member's safety number changed. Review it before sending to them.",
  missing_prekey: "The other person's keys were used up. Ask them to open SecureComm, then try again.",
  invalid_version: "Something was sent by an incompatible version of SecureComm.",
  invalid_certificate: "The relay's certificate for a sender did not check out.",
  expired_certificate: "A sender's certificate has expired. Ask them to reopen SecureComm.",
  no_sender_key: "A message arrived before its keys did. It may be readable after reconnecting.",
  invalid_padding: "Something received was malformed and was ignored.",
  invalid_ciphertext: "Something received was malformed and was ignored.",
  attachment_truncated: "The file from the relay was incomplete, so it was not opened.",
  attachment_digest_mismatch: "The relay returned a different file than the one sent, so it was not opened.",
  attachment_bad_padding: "The file was malformed, so it was not opened.",
  attachment_invalid_pointer: "The file reference in this message was malformed.",
  attachment_unavailable: "The file is no longer available from the relay.",
};

/** Sentences for relay (Connect) failures; absent codes fall back to the action's sentence. */
export const CONNECT_SENTENCES: Readonly<Partial<Record<Code, string>>> = {
  [Code.Unavailable]: "The relay cannot be reached right now. Check your connection and try again.",
  [Code.DeadlineExceeded]: "The relay took too long to answer. Try again.",
  [Code.ResourceExhausted]: "Too many requests right now. Wait a moment and try again.",
  [Code.NotFound]: "The relay does not know this room any more. The invite may be out of date.",
  [Code.PermissionDenied]: "The relay refused this request. The invite may be out of date.",
  [Code.Unauthenticated]: "The relay did not accept your sign-in. Reload the page to sign in again.",
  [Code.InvalidArgument]: "The relay refused this request as malformed.",
  [Code.Canceled]: "The request was cancelled.",
};

/** The sentence for `error` raised while doing `action`; never the error's own text. */
export function errorSentence(error: unknown, action: FailedAction): string {
  if (isProtocolError(error)) return PROTOCOL_SENTENCES[error.code];
  // Invite failures carry fixed sentences of their own (client/room/invite-box.ts, RM-51, RM-52).
  if (isInviteError(error)) return error.message;
  if (isVaultError(error, "weak_passphrase")) return WEAK_PASSPHRASE_SENTENCE;
  if (isVaultError(error, "corrupt")) return "The data SecureComm keeps in this browser is damaged or was altered, so it was not used.";
  if (error instanceof ConnectError) return CONNECT_SENTENCES[error.code] ?? ACTION_SENTENCES[action];
  // A fetch that never reached the relay (offline, DNS) is a TypeError in browsers.
  if (error instanceof TypeError && action !== "start" && action !== "join-room") {
    return CONNECT_SENTENCES[Code.Unavailable] ?? ACTION_SENTENCES[action];
  }
  return ACTION_SENTENCES[action];
}

/** Why a room closed, as the client reports it, in words. */
export function roomClosedSentence(reason: string): string {
  switch (reason) {
    case "removed":
      return "An admin removed you from this room. You can read what you already have, but no longer send or receive.";
    case "left":
      return "You left this room.";
    case "history-expired":
      return "This device was away longer than the relay keeps messages, so it can no longer follow this room. Ask for a new invite.";
    case "not-found":
      return "This room no longer exists on the relay.";
    case "access-denied":
      return "Waiting for this room's new key (someone left or was removed). Messages you send wait until it arrives; if you were removed, it will not.";
    default:
      return "This room is closed. You can no longer send or receive in it.";
  }
}

/**
 * Why one of our messages waits or failed, from the outbox's reason codes (client/app
 * post-outbox.ts): the true reason, never a network error that did not happen.
 */
export const OUTBOX_SENTENCES: Readonly<Record<string, string>> = {
  "relay-unreachable": "Waiting for the relay: it cannot be reached right now. It is sent when it can be.",
  "relay-error": "Waiting: the relay answered with an error. It is tried again shortly.",
  "rate-limited": "Waiting: too many messages right now. It is tried again shortly.",
  "access-denied": "Waiting for the room's new key after a member left. It is sent once it arrives.",
  "room-joining": "Waiting until a member has welcomed you into the room. It is sent then.",
  "not-a-member": "Not sent: you are no longer in this room.",
  "room-not-found": "Not sent: the room no longer exists.",
  "rejected": "Not sent: the relay refused this message.",
};

/** The sentence for an outbox reason code (a fixed sentence for an unknown one). */
export function outboxSentence(reason: string | undefined, failed: boolean): string {
  const known = reason === undefined ? undefined : OUTBOX_SENTENCES[reason];
  return known ?? (failed ? "Not sent." : "Waiting to send.");
}

/** A new passphrase shorter than the minimum (client/vault/passphrase-policy.ts). */
export const WEAK_PASSPHRASE_SENTENCE = `Choose a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters.`;

/** The notice shown when a room message could not be decrypted (its reason is never shown). */
/**
 * A member tried to edit or delete a message it did not write (spec/09-rooms.md RM-63, RM-64):
 * every client refuses it; the banner says so without naming anyone's words.
 */
export const FORGED_CHANGE_SENTENCE =
  "A member tried to edit or delete a message they did not write. It was ignored: only a message's author can change it.";

export const DECRYPTION_FAILED_SENTENCE =
  "A message in this room could not be decrypted and was skipped.";
