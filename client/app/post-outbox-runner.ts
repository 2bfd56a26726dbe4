/**
 * The post outbox's driver: persists entries (encrypted at rest), attempts them through the
 * room engine, classifies each outcome, keeps timers, and reports every change
 * (spec/12-delivery.md DL-01 storage, DL-02 classification, DL-03 lost answers, DL-04 reports).
 *
 * Owns: `PostOutbox`, the storage layout under `post-outbox/` (one AES-256-GCM record per
 * entry, under a key derived from the identity key, bound to its storage key), how failures
 * map to wait and failure reasons, re-reading a room's log before posting again after an
 * answer was lost (so a post the relay stored is recognised, not repeated), and
 * `PostFailedError`. Does not own: the rules (post-outbox.ts), sealing and posting (the room
 * engine's idempotent `sendText` with a caller-chosen message id, spec RM-29: the one contact
 * surface), whether a failure is transient (the engine's `sendFailure`, which follows
 * client/relay/transient.ts) or delays (client/relay/backoff.ts).
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { bytesToHex, hexToBytes, randomBytes, utf8 } from "../crypto/bytes.js";
import { aes256GcmDecrypt, aes256GcmEncrypt, AES_GCM_NONCE_LENGTH } from "../crypto/cipher.js";
import { hkdfSha256 } from "../crypto/kdf.js";
import { MAX_TEXT_BYTES } from "../room/room-engine.js";
import type { StateStore } from "../store/state-store.js";
import {
  afterRestart,
  attemptEnded,
  attemptStarted,
  connectionBack,
  dueEntries,
  itemOf,
  newEntry,
  nextWakeMs,
  type OutboxEntry,
  type OutboxFailureReason,
  type OutboxItem,
  type PostResult,
  retried,
} from "./post-outbox.js";

/** Key prefixes of the post outbox in the state store. */
export const POST_OUTBOX_KEYS = { entry: "post-outbox/", next: "post-outbox-next" } as const;
/** HKDF info of the outbox's at-rest key (derived from the identity private key). */
export const OUTBOX_AT_REST_INFO = "SecureComm post outbox at rest v1";
/** Message ids are 16 random bytes (spec RM-07). */
const MESSAGE_ID_LENGTH = 16;

/** What the outbox needs from the room engine (spec RM-29). */
export interface OutboxEngine {
  /**
   * Posts text under `messageId` (32 hex digits); resolves with the seq at once, posting
   * nothing, when the engine already knows the relay stored that message.
   */
  sendText(roomId: string, text: string, options: { messageId: string; replyTo?: string }): Promise<{ messageId: string; seq: number }>;
  /** The seq of our post `messageId`, once known (from an answer or met in the log). */
  postedSeq(roomId: string, messageId: string): number | undefined;
  /** Whether a failed send may succeed later (`transient`) or never will. */
  sendFailure(roomId: string, e: unknown): "transient" | "permanent";
  /** Reads the room's log after `last_seq` (our own stored posts are recognised on the way). */
  catchUp(roomId: Uint8Array): Promise<void>;
  /** Where the room stands for this client. */
  roomState(roomId: string): "unknown" | "joining" | "member" | "departed";
}

/** Dependencies of `PostOutbox`. */
export interface PostOutboxDeps {
  state: StateStore;
  /** The identity private key's bytes: the at-rest key is derived from it (never stored). */
  identitySecret: Uint8Array;
  engine: OutboxEngine;
  now: () => number;
  /** Jitter in [0, 1) for backoff only. */
  random: () => number;
  /** True while the relay connection is up (caught up). */
  online: () => boolean;
  /** Every change of an entry, in order. */
  emit: (item: OutboxItem) => void;
}

/** A message the outbox could not send and never will, or that the person discarded. */
export class PostFailedError extends Error {
  /** Why; switch on this, never on the message. */
  readonly reason: OutboxFailureReason | "discarded";

  constructor(reason: OutboxFailureReason | "discarded") {
    super(reason === "discarded" ? "The message was discarded before it was sent." : `The message could not be sent (${reason}).`);
    this.name = "PostFailedError";
    this.reason = reason;
  }
}

interface Waiter {
  resolve(r: { messageId: string; seq: number; postedAtMs: number }): void;
  reject(e: PostFailedError): void;
}

/** The post outbox (DESIGN.md §6). */
export class PostOutbox {
  readonly #d: PostOutboxDeps;
  readonly #key: Uint8Array;
  readonly #entries = new Map<string, OutboxEntry>();
  readonly #busy = new Set<string>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #waiters = new Map<string, Waiter[]>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Entries that could not be decrypted at open (left in place, never attempted). */
  readonly unreadable: number;

  constructor(deps: PostOutboxDeps) {
    this.#d = deps;
    this.#key = hkdfSha256(deps.identitySecret, undefined, utf8(OUTBOX_AT_REST_INFO), 32);
    let unreadable = 0;
    for (const [key, value] of deps.state.list(POST_OUTBOX_KEYS.entry)) {
      const e = this.#open(key, value);
      if (e === undefined) unreadable++;
      else this.#entries.set(key, afterRestart(e));
    }
    this.unreadable = unreadable;
  }

  // ------------------------------------------------------------------ the API

  /**
   * Queues `text` for `roomId` and persists it before resolving; it goes out as soon as it
   * can. With `wait`, `done` settles when it is sent (or fails for good).
   */
  async queue(roomId: string, text: string, replyTo?: string): Promise<OutboxItem> {
    return (await this.#queue(roomId, text, false, replyTo)).item;
  }

  /** Queues `text` and resolves once the relay stored it; rejects with `PostFailedError`. */
  async send(roomId: string, text: string, replyTo?: string): Promise<{ messageId: string; seq: number; postedAtMs: number }> {
    return (await this.#queue(roomId, text, true, replyTo)).done!;
  }

  /** Messages not yet sent (queued, sending, failed), in the order they were sent. */
  list(roomId?: string): OutboxItem[] {
    return [...this.#entries.values()]
      .filter((e) => roomId === undefined || e.roomId === roomId)
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .map(itemOf);
  }

  /** Tries a failed or waiting message again now. */
  async retry(messageId: string): Promise<void> {
    const e = this.#byId(messageId);
    await this.#update(e.key, (cur) => retried(cur));
    this.kick();
  }

  /** Drops a message that is not being sent right now. */
  async discard(messageId: string): Promise<void> {
    const e = this.#byId(messageId);
    if (e.status === "sending") throw new TypeError("The message is being sent; discard it once that attempt ends.");
    await this.#d.state.transaction(async (t) => t.delete(e.key));
    this.#entries.delete(e.key);
    for (const w of this.#takeWaiters(messageId)) w.reject(new PostFailedError("discarded"));
  }

  /** Number of messages not yet sent or failed. */
  pending(): number {
    return [...this.#entries.values()].filter((e) => e.status === "queued" || e.status === "sending").length;
  }

  /** Attempts whatever is due (rooms changed, a roster arrived, a timer fired). */
  kick(): void {
    if (this.#closed) return;
    const entries = [...this.#entries.values()];
    for (const e of dueEntries(entries, this.#d.now(), this.#busy, this.#d.online())) {
      this.#busy.add(e.roomId);
      const p = this.#attempt(e).finally(() => {
        this.#inflight.delete(p);
        this.#busy.delete(e.roomId);
        this.kick();
      });
      this.#inflight.add(p);
    }
    this.#arm();
  }

  /** The relay connection is back (caught up): whatever waited for it goes out now. */
  connectionBack(): void {
    for (const [k, e] of this.#entries) this.#entries.set(k, connectionBack(e));
    this.kick();
  }

  /** True when `messageId` is (still) one of the outbox's messages. */
  has(messageId: string): boolean {
    return [...this.#entries.values()].some((e) => e.messageId === messageId);
  }

  /** Resolves when no attempt is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /**
   * Stops timers and new attempts; entries stay stored for the next open. An attempt in
   * flight ends on its own; its result is not recorded (the entry is checked against the
   * log at the next open).
   */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  // ------------------------------------------------------------------ attempts

  async #queue(roomId: string, text: string, wait: boolean, replyTo?: string): Promise<{ item: OutboxItem; done?: Promise<{ messageId: string; seq: number; postedAtMs: number }> }> {
    if (this.#closed) throw new TypeError("The client is closed.");
    if (text.length === 0 || utf8(text).length > MAX_TEXT_BYTES) throw new RangeError("text must be 1..4096 bytes");
    if (this.#d.engine.roomState(roomId) === "unknown") throw new TypeError("unknown room");
    if (replyTo !== undefined && !/^[0-9a-f]{32}$/.test(replyTo)) throw new TypeError("message id must be 32 hex digits");
    const messageId = bytesToHex(randomBytes(MESSAGE_ID_LENGTH));
    const entry = await this.#d.state.transaction(async (t) => {
      const nextBytes = t.get(POST_OUTBOX_KEYS.next);
      const n = nextBytes === undefined ? 0 : Number(new TextDecoder().decode(nextBytes));
      const e = newEntry(`${POST_OUTBOX_KEYS.entry}${String(n).padStart(16, "0")}`, messageId, roomId, text, this.#d.now(), replyTo);
      t.put(POST_OUTBOX_KEYS.next, utf8(String(n + 1)));
      t.put(e.key, this.#seal(e));
      return e;
    });
    this.#entries.set(entry.key, entry);
    const done = wait
      ? new Promise<{ messageId: string; seq: number; postedAtMs: number }>((resolve, reject) => {
          const list = this.#waiters.get(messageId) ?? [];
          list.push({ resolve, reject });
          this.#waiters.set(messageId, list);
        })
      : undefined;
    this.#emit(entry);
    this.kick();
    return { item: itemOf(entry), ...(done !== undefined ? { done } : {}) };
  }

  async #attempt(start: OutboxEntry): Promise<void> {
    const { roomId, messageId } = start;
    if (start.maybeStored) {
      // An earlier answer was lost: the relay may hold that post. Read the log first; if it
      // is there, the entry is sent and nothing is posted again (spec RM-29).
      try {
        await this.#d.engine.catchUp(hexToBytes(roomId));
      } catch (e) {
        if (!this.#closed) await this.#record(start.key, this.#classify(roomId, e));
        return;
      }
      const seq = this.#d.engine.postedSeq(roomId, messageId);
      if (seq !== undefined) {
        if (!this.#closed) await this.#record(start.key, { kind: "posted", seq, postedAtMs: this.#d.now() });
        return;
      }
    }
    const current = this.#entries.get(start.key);
    if (current === undefined || current.status !== "queued" || this.#closed) return;
    const sending = attemptStarted(current);
    this.#entries.set(start.key, sending);
    this.#emit(sending);
    let result: PostResult;
    try {
      const res = await this.#d.engine.sendText(roomId, current.text, { messageId, ...(current.replyTo === undefined ? {} : { replyTo: current.replyTo }) });
      result = { kind: "posted", seq: res.seq, postedAtMs: this.#d.now() };
    } catch (e) {
      result = this.#classify(roomId, e);
    }
    // After close() the store may be gone: the entry stays as stored ("sending" becomes
    // "queued" at the next open and is checked against the log first).
    if (!this.#closed) await this.#record(start.key, result);
  }

  async #record(key: string, result: PostResult): Promise<void> {
    let next: OutboxEntry | undefined;
    await this.#d.state
      .transaction(async (t) => {
        const cur = this.#entries.get(key);
        if (cur === undefined || t.get(key) === undefined) return; // recognised or discarded meanwhile
        next = attemptEnded(cur, result, this.#d.now(), this.#d.random);
        if (next.status === "sent") t.delete(key);
        else t.put(key, this.#seal(next));
      })
      .catch(() => (next = undefined)); // a closed store: the entry stays as stored
    if (next === undefined) return;
    if (next.status === "sent") this.#finished(next);
    else {
      this.#entries.set(key, next);
      this.#emit(next);
      if (next.status === "failed") for (const w of this.#takeWaiters(next.messageId)) w.reject(new PostFailedError(next.reason as OutboxFailureReason));
    }
  }

  #finished(e: OutboxEntry): void {
    if (!this.#entries.delete(e.key)) return; // reported already
    this.#emit(e);
    for (const w of this.#takeWaiters(e.messageId)) w.resolve({ messageId: e.messageId, seq: e.seq ?? 0, postedAtMs: e.postedAtMs ?? 0 });
  }

  /**
   * Maps a failure to what it means for the message, with the true reason: the engine says
   * whether a retry can help (RM-29); the room's state and the relay's code say why.
   */
  #classify(roomId: string, e: unknown): PostResult {
    const state = this.#d.engine.roomState(roomId);
    if (this.#d.engine.sendFailure(roomId, e) === "permanent") {
      if (state === "unknown" || (e instanceof ConnectError && e.code === Code.NotFound)) return { kind: "fail", reason: "room-not-found" };
      if (state === "departed") return { kind: "fail", reason: "not-a-member" };
      return { kind: "fail", reason: "rejected" };
    }
    if (state === "joining") return { kind: "wait", reason: "room-joining", maybeStored: false };
    if (e instanceof ConnectError) {
      if (e.code === Code.PermissionDenied) return { kind: "wait", reason: "access-denied", maybeStored: false };
      if (e.code === Code.ResourceExhausted) return { kind: "wait", reason: "rate-limited", maybeStored: false };
      // No answer (socket closed or refused, timed out, aborted): the request may have arrived.
      const noAnswer = e.cause instanceof Error || e.code === Code.DeadlineExceeded || e.code === Code.Canceled;
      return { kind: "wait", reason: noAnswer ? "relay-unreachable" : "relay-error", maybeStored: true };
    }
    return { kind: "wait", reason: "relay-unreachable", maybeStored: true };
  }

  // ------------------------------------------------------------------ storage and events

  async #update(key: string, fn: (e: OutboxEntry) => OutboxEntry): Promise<void> {
    let next: OutboxEntry | undefined;
    await this.#d.state.transaction(async (t) => {
      const cur = this.#entries.get(key);
      if (cur === undefined || t.get(key) === undefined) return;
      next = fn(cur);
      t.put(key, this.#seal(next));
    });
    if (next === undefined) return;
    this.#entries.set(key, next);
    this.#emit(next);
  }

  #byId(messageId: string): OutboxEntry {
    const e = [...this.#entries.values()].find((x) => x.messageId === messageId);
    if (e === undefined) throw new TypeError("No such message in the outbox.");
    return e;
  }

  #takeWaiters(messageId: string): Waiter[] {
    const list = this.#waiters.get(messageId) ?? [];
    this.#waiters.delete(messageId);
    return list;
  }

  #emit(e: OutboxEntry): void {
    try {
      this.#d.emit(itemOf(e));
    } catch {
      // a listener's failure must not break the outbox
    }
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    const wake = nextWakeMs([...this.#entries.values()], this.#d.now());
    if (wake === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.kick();
    }, Math.max(0, wake - this.#d.now()) + 5);
  }

  /** Entry → nonce ‖ AES-256-GCM(JSON), bound to its storage key. */
  #seal(e: OutboxEntry): Uint8Array {
    const nonce = randomBytes(AES_GCM_NONCE_LENGTH);
    const ct = aes256GcmEncrypt(this.#key, nonce, utf8(JSON.stringify(e)), utf8(e.key));
    const out = new Uint8Array(nonce.length + ct.length);
    out.set(nonce);
    out.set(ct, nonce.length);
    return out;
  }

  #open(key: string, value: Uint8Array): OutboxEntry | undefined {
    try {
      const pt = aes256GcmDecrypt(this.#key, value.subarray(0, AES_GCM_NONCE_LENGTH), value.subarray(AES_GCM_NONCE_LENGTH), utf8(key));
      const e = JSON.parse(new TextDecoder().decode(pt)) as OutboxEntry;
      return e.key === key ? e : undefined;
    } catch {
      return undefined;
    }
  }
}
