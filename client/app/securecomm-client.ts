/**
 * The client facade: one object the CLI and the web app drive.
 *
 * Owns: the `SecureCommClient` contract (types first), its options and typed events, and
 * `openSecureCommClient`. Does not own: the room protocol (client/room), the relay connection
 * (client/relay), account upkeep (client/account) or storage backends (a `KeyValueStore` is
 * passed in). Everything here is platform-neutral: no Node-only imports (the web reuses it).
 */

import { openClientRuntime } from "./client-runtime.js";
import type { KeyValueStore } from "../store/kv-store.js";
import type { MessageUpdate, RoomMessage } from "../room/room-engine.js";
import type { OutboxItem } from "./post-outbox.js";
import type { AttachmentView } from "../attachments/attachment-pointer.js";
import type { OutgoingFile } from "../attachments/blob-transfer.js";

export type { AttachmentView } from "../attachments/attachment-pointer.js";
export type { OutgoingFile } from "../attachments/blob-transfer.js";
export { safeFileName } from "../attachments/attachment-pointer.js";

export type { OutboxFailureReason, OutboxItem, OutboxStatus, OutboxWaitReason } from "./post-outbox.js";
export { PostFailedError } from "./post-outbox-runner.js";
export { messageTimeMs } from "./message-time.js";
export { InviteError, isInviteError, type InviteErrorCode } from "../room/invite-box.js";
export { parseInviteLink, type ParsedInvite } from "../room/invite.js";

/** How to open a client (spec/09-rooms.md, spec/10-relay-api.md). */
export interface SecureCommClientOptions {
  /** Base URL of the relay, e.g. "http://127.0.0.1:8080". */
  relayUrl: string;
  /** Where all client state lives. */
  store: KeyValueStore;
  /** Optional fetch (tests, proxies). */
  fetch?: typeof globalThis.fetch;
  /** Clock in milliseconds since the epoch (tests). */
  now?: () => number;
  /** Jitter source in [0, 1) for reconnect backoff only (tests); never used for keys. */
  random?: () => number;
}

/** One room as a list shows it. */
export interface RoomSummary {
  roomId: string;
  name: string;
  memberCount: number;
  unread: number;
  /** True once we left or were removed; the room stays readable locally but is closed. */
  departed: boolean;
  isAdmin: boolean;
  /**
   * True when history expired while this client was away, so membership changes may have been
   * missed (spec RM-19); show the roster as possibly out of date. Optional for compatibility.
   */
  rosterStale?: boolean;
  /**
   * Disappearing messages for the whole room (spec RM-54): messages are deleted from every
   * member's history this many seconds after they were sent; 0 keeps them.
   */
  retentionSeconds?: number;
  /** True when this member can share an invite link (spec RM-50). */
  hasInviteLink?: boolean;
}

/** Whether we verified a member's safety number, and whether their identity changed since. */
export type Verification = "unverified" | "verified" | "changed";

/** One member of a room as the member list shows it. */
export interface MemberView {
  address: string;
  displayName: string;
  isAdmin: boolean;
  isSelf: boolean;
  verification: Verification;
}

/** The client facade (DESIGN.md §6). */
export interface SecureCommClient {
  /** Creates the identity if the store has none, registers with the relay, uploads prekeys. */
  ensureIdentity(displayName: string): Promise<void>;
  readonly hasIdentity: boolean;
  identity(): { address: string; fingerprint: string; displayName: string };
  setDisplayName(name: string): Promise<void>;
  createRoom(name: string, origin?: string): Promise<{ roomId: string; inviteLink: string }>;
  /** The room's invite link (RM-50); TypeError for a room made before RM-50 until its admin resets it. */
  inviteLink(roomId: string, origin?: string): string;
  /** Admin only: replaces the invite link; the old one stops working (RM-52). Resolves with the new link. */
  resetInviteLink(roomId: string, origin?: string): Promise<string>;
  /**
   * Joins by invite link. A link that was reset, or whose room is gone, rejects with
   * `InviteError` (client/room/invite-box.ts) carrying a sentence for the user (RM-51, RM-52).
   */
  joinRoom(inviteLink: string): Promise<{ roomId: string }>;
  /** Sets disappearing messages for every member of the room (any member may; RM-54). */
  setRoomRetention(roomId: string, retentionSeconds: number): Promise<void>;
  /** id, name, member count, unread, departed, isAdmin. */
  rooms(): RoomSummary[];
  /** address, displayName, isAdmin, isSelf, verification. */
  members(roomId: string): MemberView[];
  /**
   * Sends text through the outbox and resolves once the relay stored it (it waits through
   * outages and restarts of the relay); rejects with `PostFailedError` only for reasons a
   * retry cannot fix (left or removed from the room, room gone, envelope refused).
   * With `options.messageId` (32 hex digits, caller-chosen) it posts directly instead, for a
   * caller that keeps its own outbox: a message the relay already stored is not posted again,
   * and members show a re-posted one once (spec/09-rooms.md RM-29).
   */
  sendText(roomId: string, text: string, options?: { messageId?: string; replyTo?: string }): Promise<{ messageId: string; seq: number }>;
  /**
   * Encrypts each file under a fresh key, uploads it (resuming after dropped connections) and
   * then posts one message carrying the pointers and `options.text` (spec/09-rooms.md RM-70,
   * RM-71, RM-76). `onProgress(index, done, total)` reports upload bytes per file. At most 4
   * files of 1..100 MiB; the message is posted only after every upload finished.
   */
  sendFiles(roomId: string, files: readonly OutgoingFile[], options?: { text?: string; onProgress?: (index: number, done: number, total: number) => void; signal?: AbortSignal }): Promise<{ messageId: string; seq: number }>;
  /**
   * Downloads and opens an attachment of a received message (RM-72): the length, digest and
   * MAC are checked before anything is decrypted; a substituted, truncated or altered blob
   * rejects with a `ProtocolError` and yields nothing.
   */
  downloadAttachment(attachment: AttachmentView | Uint8Array, options?: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal }): Promise<Uint8Array>;
  /**
   * Queues text in the outbox (persisted encrypted in the store before this resolves) and
   * returns at once; "outbox" events report queued → sending → sent or failed, and a sent
   * message is also a `message` event with `own: true`. Posts of one room go out in order.
   */
  queueText(roomId: string, text: string, options?: { replyTo?: string }): Promise<OutboxItem>;
  /**
   * Reacts to message `messageId` with one emoji, replacing our earlier reaction, or takes our
   * reaction back with `undefined` (spec/09-rooms.md RM-62). Resolves once the relay stored it.
   */
  react(roomId: string, messageId: string, emoji: string | undefined): Promise<void>;
  /** Replaces the text of our own message (RM-63); TypeError for someone else's. */
  editMessage(roomId: string, messageId: string, text: string): Promise<void>;
  /** Deletes our own message for everyone, leaving a tombstone (RM-64); TypeError for someone else's. */
  deleteMessage(roomId: string, messageId: string): Promise<void>;
  /** Messages not yet sent (queued, sending, failed), oldest first; all rooms or one. */
  outbox(roomId?: string): OutboxItem[];
  /** Tries a failed (or waiting) message again now. */
  retryMessage(messageId: string): Promise<void>;
  /** Drops a message from the outbox (not while an attempt is in flight: TypeError). */
  discardMessage(messageId: string): Promise<void>;
  setTyping(roomId: string, typing: boolean): Promise<void>;
  leaveRoom(roomId: string): Promise<void>;
  removeMember(roomId: string, memberAddress: string): Promise<void>;
  safetyNumber(roomId: string, memberAddress: string): Promise<{ digits: string; scannable: Uint8Array }>;
  markVerified(memberAddress: string): Promise<void>;
  acceptIdentityChange(memberAddress: string): Promise<void>;
  /** Starts the Subscribe loop (reconnects with jittered backoff until stop()). */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly connection: ConnectionState;
  /** Typed events; returns an unsubscribe function. */
  on<K extends keyof ClientEvents>(event: K, handler: (e: ClientEvents[K]) => void): () => void;
  /** Deletes the relay account and all local data. */
  deleteEverything(): Promise<void>;
  close(): Promise<void>;
}

/** The relay connection as the UI shows it. */
export type ConnectionState = "offline" | "connecting" | "online";

/** Every event the client emits. Failures are reported, never silent (spec RM-*). */
export interface ClientEvents {
  message: RoomMessage;
  /** A message was edited, deleted or reacted to: its whole new view (RM-62..RM-65). */
  "message-updated": MessageUpdate;
  typing: { roomId: string; sender: string; typing: boolean };
  "members-changed": { roomId: string };
  "identity-changed": { roomId: string; member: string };
  /** reported, never silent */
  "decryption-failed": { roomId?: string; sender?: string; reason: string };
  "rooms-changed": {};
  connection: { state: ConnectionState; error?: string };
  "room-closed": { roomId: string; reason: string };
  /** A member set the room's disappearing messages (RM-54); shown as a line in the room. */
  "settings-changed": { roomId: string; sender: string; senderName: string; own: boolean; seq: number; retentionSeconds: number };
  /** The room's invite link changed (RM-52): show the new one. */
  "invite-changed": { roomId: string };
  /** An outbox entry changed: queued, sending, sent or failed, with the reason (issue 16). */
  outbox: OutboxItem;
}

/**
 * Opens a client over `options.store`: loads any existing identity and rooms; does not touch
 * the network until `ensureIdentity` or `start`.
 */
export async function openSecureCommClient(options: SecureCommClientOptions): Promise<SecureCommClient> {
  return openClientRuntime(options);
}
