/**
 * The web app's live state: one reactive store fed by a `SecureCommClient`'s events, and the
 * actions the views call (DESIGN.md §6).
 *
 * Owns: what the screens show (identity, rooms, unread counts, timelines, members, typing,
 * connection, closed rooms), optimistic sends with pending/sent/failed states, typing-indicator
 * timing, join/leave lines in the timeline, and keeping ordered lines in local history
 * (client/vault/room-history.ts, encrypted by the profile vault) under each room's retention.
 * Does not own: any protocol work (client/), storage formats or encryption (client/vault), or
 * layout (views/). Message text reaches storage only through the vault's encryption.
 */

import { batch } from "solid-js";
import { createStore, produce } from "solid-js/store";
import type {
  ClientEvents,
  ConnectionState,
  MemberView,
  RoomSummary,
  OutboxItem,
  SecureCommClient,
} from "../../../client/app/securecomm-client.js";
import { messageTimeMs } from "../../../client/app/message-time.js";
import { RETENTION_MS, retentionFromSeconds, retentionPhrase, retentionSeconds, type HistoryLine, type Retention, type RoomHistory } from "../../../client/vault/room-history.js";
import { attachmentFromJson, attachmentToJson } from "../../../client/attachments/attachment-pointer.js";
import type { AttachmentView, OutgoingFile } from "../../../client/app/securecomm-client.js";
import { insertInOrder, type TimelineItem } from "../lib/message-groups.js";

/** Where the app is in its life: opening, asking for a name, or running. */
export type Phase = "loading" | "welcome" | "ready";

/** Everything the views read. Plain data; only the actions below change it. */
export interface SessionState {
  phase: Phase;
  identity: { address: string; fingerprint: string; displayName: string } | undefined;
  rooms: RoomSummary[];
  /** Messages received while their room was not on screen, per room (in memory). */
  unread: Record<string, number>;
  /** Each room's timeline in relay order (ordered lines are also kept in encrypted history). */
  timelines: Record<string, TimelineItem[]>;
  /** Each room's disappearing messages, set by any member for everyone (spec RM-54; default "keep"). */
  retention: Record<string, Retention>;
  /** Bumped when a room's invite link changes (spec RM-52), so views re-read it. */
  inviteRevision: Record<string, number>;
  /** True once saving history failed (shown as a notice; the conversation stays on screen). */
  historyFailed: boolean;
  members: Record<string, MemberView[]>;
  /** Who is typing per room: sender address → time the indicator expires. */
  typing: Record<string, Record<string, number>>;
  connection: ConnectionState;
  /** Rooms the client closed (left, removed), with the client's reason. */
  closed: Record<string, string>;
  /** Rooms where a message could not be decrypted since the room was last opened. */
  undecryptable: Record<string, boolean>;
  /** Rooms where a member tried to edit or delete someone else's message (RM-63, RM-64), since last opened. */
  forged: Record<string, boolean>;
  /** The room on screen, if any (its messages do not count as unread). */
  activeRoom: string | undefined;
}

/**
 * How long a typing indicator stays without a refresh. Senders refresh every
 * {@link TYPING_REFRESH_MS}, so a lost "stopped typing" event clears itself after this.
 */
export const TYPING_TTL_MS = 6_000;
/** Least time between two "typing" events we send for one room (keeps ephemeral traffic low). */
export const TYPING_REFRESH_MS = 3_000;
/** Quiet time after the last keystroke before we send "stopped typing". */
export const TYPING_IDLE_MS = 4_000;

/**
 * Join/leave lines have no relay sequence number of their own; they sort at the newest
 * message's number plus this fraction (never an integer, so never equal to a real one).
 */
export const EVENT_SEQ_OFFSET = 0.5;

/**
 * How often expired lines are removed from screen and storage. A minute is fine-grained
 * against the shortest retention (an hour).
 */
export const RETENTION_SWEEP_MS = 60_000;

/** The live session the views drive. */
export interface WebSession {
  readonly state: SessionState;
  /** Loads identity and rooms; starts the relay connection when an identity exists. */
  init(): Promise<void>;
  createIdentity(displayName: string): Promise<void>;
  createRoom(name: string): Promise<{ roomId: string; inviteLink: string }>;
  joinRoom(inviteLink: string): Promise<string>;
  inviteLink(roomId: string): string;
  /** The admin replaces the room's invite link (spec RM-52); resolves with the new one. */
  resetInviteLink(roomId: string): Promise<string>;
  /** Marks a room as on screen (clears its unread count) or none. */
  setActiveRoom(roomId: string | undefined): void;
  refreshMembers(roomId: string): void;
  /**
   * Queues text in the client's outbox (kept encrypted, sent in order when the relay takes it);
   * `replyTo` names the message it answers (RM-61).
   */
  send(roomId: string, text: string, replyTo?: string): Promise<void>;
  /** Sets our reaction to a message, or takes it back with `undefined` (RM-62). */
  react(roomId: string, messageId: string, emoji: string | undefined): Promise<void>;
  /** Replaces the text of our own message (RM-63). */
  editMessage(roomId: string, messageId: string, text: string): Promise<void>;
  /** Deletes our own message for everyone (RM-64). */
  deleteMessage(roomId: string, messageId: string): Promise<void>;
  /**
   * Encrypts, uploads and sends files with optional text (spec/09-rooms.md RM-70..RM-76);
   * `onProgress(index, done, total)` reports upload bytes per file.
   */
  sendFiles(roomId: string, files: readonly OutgoingFile[], text: string, onProgress?: (index: number, done: number, total: number) => void): Promise<void>;
  /** Downloads and opens an attachment (digest and MAC checked before decryption, RM-72). */
  downloadAttachment(attachment: AttachmentView, onProgress?: (done: number, total: number) => void): Promise<Uint8Array>;
  /** Tries a waiting or failed message again now. */
  retry(roomId: string, key: string): Promise<void>;
  /** Drops a failed message from the outbox and the timeline. */
  discard(roomId: string, key: string): Promise<void>;
  /** The user typed in the composer. */
  noteTyping(roomId: string): void;
  /** The composer emptied or sent: stop the indicator now. */
  stopTyping(roomId: string): void;
  leaveRoom(roomId: string): Promise<void>;
  removeMember(roomId: string, address: string): Promise<void>;
  safetyNumber(roomId: string, address: string): Promise<{ digits: string; scannable: Uint8Array }>;
  markVerified(address: string): Promise<void>;
  acceptIdentityChange(address: string): Promise<void>;
  setDisplayName(name: string): Promise<void>;
  /**
   * Sets the room's disappearing messages for every member (spec RM-54); it takes effect here
   * too when the relay has ordered it (the "settings-changed" event).
   */
  setRetention(roomId: string, retention: Retention): Promise<void>;
  /** Deletes a room's history from screen and storage on this device. */
  clearHistory(roomId: string): Promise<void>;
  /** Restarts the relay connection now (the retry button). */
  reconnect(): Promise<void>;
  deleteEverything(): Promise<void>;
  /**
   * Unsubscribes from the client and stops timers (does not close the client); the relay
   * connection is never started afterwards.
   */
  dispose(): void;
}

/** Options of {@link createWebSession}. */
export interface WebSessionOptions {
  /** Origin invite links point at; default the page's origin. */
  origin?: string;
  now?: () => number;
  /** Where ordered lines are kept across reloads; none: memory only. */
  history?: RoomHistory;
}

/** Creates the session over `client` and subscribes to its events (DESIGN.md §6). */
export function createWebSession(client: SecureCommClient, options: WebSessionOptions = {}): WebSession {
  const now = options.now ?? (() => Date.now());
  const origin = options.origin ?? globalThis.location?.origin;
  const [state, setState] = createStore<SessionState>({
    phase: "loading",
    identity: undefined,
    rooms: [],
    unread: {},
    timelines: {},
    retention: {},
    inviteRevision: {},
    historyFailed: false,
    members: {},
    typing: {},
    connection: client.connection,
    closed: {},
    undecryptable: {},
    forged: {},
    activeRoom: undefined,
  });
  // Local keys must not repeat across reloads (stored lines keep theirs): start from the clock.
  let localCounter = now();
  const history = options.history;
  /** Saves an ordered line; a failure is shown, never thrown into the event flow. */
  const keep = (roomId: string, item: TimelineItem): void => {
    if (history === undefined || item.status !== "sent" || item.seq === undefined) return;
    const line: HistoryLine = {
      key: item.messageId ?? item.key,
      kind: item.kind,
      seq: item.seq,
      ...(item.messageId !== undefined ? { messageId: item.messageId } : {}),
      sender: item.sender,
      senderName: item.senderName,
      text: item.text,
      atMs: item.atMs,
      own: item.own,
      ...(item.replyTo !== undefined ? { replyTo: item.replyTo } : {}),
      ...(item.edited === true ? { edited: true } : {}),
      ...(item.deleted === true ? { deleted: true } : {}),
      ...(item.reactions !== undefined && item.reactions.length > 0 ? { reactions: item.reactions } : {}),
      ...(item.attachments !== undefined ? { attachments: item.attachments.map(attachmentToJson) } : {}),
    };
    history.put(roomId, line).catch(() => setState("historyFailed", true));
  };
  const expired = (roomId: string, item: TimelineItem, t: number): boolean => {
    const lifetime = RETENTION_MS[state.retention[roomId] ?? "keep"];
    return lifetime !== undefined && item.status === "sent" && item.atMs < t - lifetime;
  };
  /** Drops expired lines from screen, and from storage through history.load. */
  const sweep = (roomId: string): void => {
    const t = now();
    const items = state.timelines[roomId] ?? [];
    if (items.some((i) => expired(roomId, i, t))) setState("timelines", roomId, items.filter((i) => !expired(roomId, i, t)));
    history?.load(roomId).catch(() => setState("historyFailed", true));
  };
  const sweeper = history === undefined ? undefined : setInterval(() => {
    for (const roomId of Object.keys(state.retention)) if (state.retention[roomId] !== "keep") sweep(roomId);
  }, RETENTION_SWEEP_MS);
  const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  const ourTyping = new Map<string, { sentAt: number; idle: ReturnType<typeof setTimeout> | undefined }>();

  const loadRooms = (): void => {
    setState("rooms", client.rooms());
  };
  const loadIdentity = (): void => {
    setState("identity", client.hasIdentity ? client.identity() : undefined);
  };
  const rosterKnown = new Set<string>();
  const removedByUs = new Set<string>();
  const loadMembers = (roomId: string, announce: boolean): void => {
    const next = client.members(roomId);
    const before = state.members[roomId] ?? [];
    batch(() => {
      // Join/leave lines only once we knew the roster (we created the room, or a member's
      // answer told us who is in it), so a joiner's first roster does not read as everyone
      // arriving at once, while the creator does see the first joiner arrive.
      if (announce && rosterKnown.has(roomId)) {
        const had = new Set(before.map((m) => m.address));
        const has = new Set(next.map((m) => m.address));
        for (const m of next) if (!had.has(m.address)) appendEvent(roomId, m, "joined the room");
        for (const m of before) {
          if (has.has(m.address)) continue;
          // The client does not say whether a member left or was removed (unless we removed
          // them), so the line says only what is certain.
          if (removedByUs.delete(`${roomId}\n${m.address}`)) appendEvent(roomId, m, "was removed by you");
          else appendEvent(roomId, m, "is no longer in the room");
        }
      }
      if (next.some((m) => !m.isSelf) || client.rooms().find((r) => r.roomId === roomId)?.isAdmin === true) rosterKnown.add(roomId);
      setState("members", roomId, next);
    });
  };

  function appendEvent(roomId: string, member: MemberView, what: string): void {
    // Placed just after the newest ordered message, so later messages (higher relay sequence
    // numbers) still come after it and pending ones stay last.
    const seqs = (state.timelines[roomId] ?? []).flatMap((i) => (i.seq === undefined ? [] : [i.seq]));
    const item: TimelineItem = {
      key: `event-${++localCounter}`,
      kind: "event",
      seq: (seqs.length === 0 ? 0 : Math.max(...seqs)) + EVENT_SEQ_OFFSET,
      sender: member.address,
      senderName: member.displayName,
      text: `${member.displayName} ${what}`,
      atMs: now(),
      own: false,
      status: "sent",
    };
    setState("timelines", roomId, (items) => insertInOrder(items ?? [], item));
    keep(roomId, item);
  }

  /** RM-54: the room's setting applies to this device's history (screen and storage). */
  function applyRetention(roomId: string, retention: Retention): void {
    if (state.retention[roomId] === retention) return;
    setState("retention", roomId, retention);
    history?.setRetention(roomId, retention).catch(() => setState("historyFailed", true));
    sweep(roomId);
  }

  function onSettings(e: ClientEvents["settings-changed"]): void {
    batch(() => {
      applyRetention(e.roomId, retentionFromSeconds(e.retentionSeconds));
      const who = e.own ? "You" : e.senderName;
      const item: TimelineItem = {
        key: `settings-${e.seq}`,
        kind: "event",
        seq: e.seq,
        sender: e.sender,
        senderName: e.senderName,
        text: `${who} set disappearing messages to ${retentionPhrase(e.retentionSeconds)}`,
        atMs: now(),
        own: e.own,
        status: "sent",
      };
      const items = state.timelines[e.roomId] ?? [];
      if (items.some((i) => i.key === item.key)) return;
      setState("timelines", e.roomId, insertInOrder(items, item));
      keep(e.roomId, item);
    });
  }

  function clearTyping(roomId: string, sender: string): void {
    const timerKey = `${roomId}\n${sender}`;
    const timer = typingTimers.get(timerKey);
    if (timer !== undefined) clearTimeout(timer);
    typingTimers.delete(timerKey);
    if (state.typing[roomId]?.[sender] !== undefined) {
      setState("typing", roomId, produce((t) => { delete t[sender]; }));
    }
  }

  /**
   * "access-denied" is the client waiting for a rotated key (RM-14), not a departure: once the
   * room works again (a message, a roster change), it is open again.
   */
  function reopenIfWaiting(roomId: string): void {
    if (state.closed[roomId] !== "access-denied") return;
    if (client.rooms().find((r) => r.roomId === roomId)?.departed === true) return;
    setState("closed", produce((c) => { delete c[roomId]; }));
  }

  function onMessage(e: ClientEvents["message"]): void {
    batch(() => {
      reopenIfWaiting(e.roomId);
      clearTyping(e.roomId, e.sender);
      const items = state.timelines[e.roomId] ?? [];
      const item: TimelineItem = {
        key: e.messageId,
        kind: "message",
        seq: e.seq,
        messageId: e.messageId,
        sender: e.sender,
        senderName: e.senderName,
        text: e.text,
        atMs: messageTimeMs(e), // the sender's time: the relay's is floored to the hour (SC-18)
        own: e.own,
        status: "sent",
        ...(e.replyTo !== undefined ? { replyTo: e.replyTo } : {}),
        ...(e.edited === true ? { edited: true } : {}),
        ...(e.deleted === true ? { deleted: true, text: "" } : {}),
        ...(e.reactions !== undefined ? { reactions: e.reactions } : {}),
        ...(e.attachments !== undefined ? { attachments: e.attachments } : {}),
      };
      const at = items.findIndex((i) => i.messageId === e.messageId);
      if (at !== -1) {
        // At-least-once: seen it. Our own outbox line becomes the ordered, sent one.
        if (items[at]!.status === "sent") return;
        setState("timelines", e.roomId, insertInOrder(items.filter((_, i) => i !== at), { ...item, key: items[at]!.key }));
        keep(e.roomId, item);
        return;
      }
      setState("timelines", e.roomId, insertInOrder(items, item));
      keep(e.roomId, item);
      if (!e.own && state.activeRoom !== e.roomId) setState("unread", e.roomId, (n) => (n ?? 0) + 1);
    });
  }

  /**
   * RM-62..RM-64: an edit, delete or reaction: the line of its target takes the new view, on
   * screen and in the encrypted history (a delete overwrites the stored text with nothing).
   */
  function onMessageUpdated(u: ClientEvents["message-updated"]): void {
    const items = state.timelines[u.roomId] ?? [];
    const at = items.findIndex((i) => i.messageId === u.messageId && i.kind === "message");
    if (at === -1) return; // not on this device (before we joined, or expired): nothing to change
    const old = items[at]!;
    const { reactions: _r, edited: _e, deleted: _d, ...rest } = old;
    const next: TimelineItem = {
      ...rest,
      text: u.deleted ? "" : (u.text ?? old.text),
      ...(u.edited ? { edited: true } : {}),
      ...(u.deleted ? { deleted: true } : {}),
      ...(u.reactions.length > 0 ? { reactions: u.reactions } : {}),
    };
    // A new array, not a path set: a store path set merges objects, and fields must go away.
    setState("timelines", u.roomId, items.map((x, i) => (i === at ? next : x)));
    keep(u.roomId, next);
  }

  /** The timeline line of an outbox item (not yet sent lines sort last, in the order sent). */
  function outboxLine(o: OutboxItem): TimelineItem {
    const me = state.identity;
    return {
      key: o.messageId,
      kind: "message",
      ...(o.status === "sent" && o.seq !== undefined ? { seq: o.seq } : {}),
      messageId: o.messageId,
      sender: me?.address ?? "",
      senderName: me?.displayName ?? "",
      text: o.text,
      atMs: messageTimeMs(o),
      own: true,
      status: o.status,
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
      ...(o.replyTo !== undefined ? { replyTo: o.replyTo } : {}),
    };
  }

  function onOutbox(o: ClientEvents["outbox"]): void {
    const items = state.timelines[o.roomId] ?? [];
    const at = items.findIndex((i) => i.messageId === o.messageId);
    if (at !== -1 && items[at]!.status === "sent") return; // the ordered copy already came
    const line = outboxLine(o);
    const rest = at === -1 ? items : items.filter((_, i) => i !== at);
    setState("timelines", o.roomId, insertInOrder(rest, at === -1 ? line : { ...line, key: items[at]!.key }));
    keep(o.roomId, line);
  }

  function onTyping(e: ClientEvents["typing"]): void {
    if (!e.typing) {
      clearTyping(e.roomId, e.sender);
      return;
    }
    const timerKey = `${e.roomId}\n${e.sender}`;
    const old = typingTimers.get(timerKey);
    if (old !== undefined) clearTimeout(old);
    typingTimers.set(timerKey, setTimeout(() => clearTyping(e.roomId, e.sender), TYPING_TTL_MS));
    if (state.typing[e.roomId] === undefined) setState("typing", e.roomId, {});
    setState("typing", e.roomId, e.sender, now() + TYPING_TTL_MS);
  }

  let disposed = false;
  const unsubscribe = [
    client.on("message", onMessage),
    client.on("message-updated", onMessageUpdated),
    client.on("typing", onTyping),
    client.on("outbox", onOutbox),
    client.on("members-changed", (e) => {
      reopenIfWaiting(e.roomId);
      loadMembers(e.roomId, true);
      loadRooms();
    }),
    client.on("identity-changed", (e) => {
      loadMembers(e.roomId, false);
    }),
    client.on("decryption-failed", (e) => {
      if (e.roomId === undefined) return;
      // RM-63, RM-64: a forged edit or delete decrypted fine; it is refused, not undecryptable.
      if (e.reason.startsWith("forged ")) setState("forged", e.roomId, true);
      else setState("undecryptable", e.roomId, true);
    }),
    client.on("rooms-changed", () => {
      loadRooms();
    }),
    client.on("settings-changed", onSettings),
    client.on("invite-changed", (e) => {
      setState("inviteRevision", e.roomId, (n) => (n ?? 0) + 1);
    }),
    client.on("connection", (e) => {
      setState("connection", e.state);
    }),
    client.on("room-closed", (e) => {
      batch(() => {
        setState("closed", e.roomId, e.reason);
        loadRooms();
        loadMembers(e.roomId, false);
      });
    }),
  ];

  async function start(): Promise<void> {
    // A session disposed meanwhile (this tab lost the active-tab lock while an identity was
    // being created) must not start a Subscribe loop on a closed client.
    if (disposed) return;
    loadIdentity();
    loadRooms();
    for (const room of state.rooms) loadMembers(room.roomId, false);
    if (history !== undefined) {
      // History first, so the Subscribe loop's new messages land after (and de-duplicate against) it.
      for (const room of state.rooms) {
        try {
          // RM-54: the room's own setting wins over what this device kept (the same, normally).
          const retention = room.retentionSeconds !== undefined ? retentionFromSeconds(room.retentionSeconds) : await history.retention(room.roomId);
          if (retention !== (await history.retention(room.roomId))) await history.setRetention(room.roomId, retention);
          const lines = await history.load(room.roomId);
          const loaded = lines.map((l): TimelineItem => {
            const { attachments, ...rest } = l;
            // Kept pointers are checked again (RM-73); one that fails is not shown.
            const views = attachments?.map(attachmentFromJson).filter((a): a is AttachmentView => a !== undefined);
            return { ...rest, status: "sent", ...(views !== undefined && views.length > 0 ? { attachments: views } : {}) };
          });
          batch(() => {
            setState("retention", room.roomId, retention);
            setState("timelines", room.roomId, (items) => {
              let out = loaded;
              for (const i of items ?? []) if (!loaded.some((l) => l.messageId !== undefined && l.messageId === i.messageId)) out = insertInOrder(out, i);
              return out;
            });
          });
        } catch {
          setState("historyFailed", true);
        }
      }
      if (disposed) return;
    }
    // Messages still in the outbox (kept across reloads by the client) show as they stand.
    for (const o of client.outbox()) onOutbox(o);
    setState("phase", "ready");
    await client.start();
  }

  return {
    state,
    async init() {
      if (client.hasIdentity) await start();
      else setState("phase", "welcome");
    },
    async createIdentity(displayName) {
      await client.ensureIdentity(displayName);
      await start();
    },
    async createRoom(name) {
      const created = await client.createRoom(name, origin);
      loadRooms();
      loadMembers(created.roomId, false);
      return created;
    },
    async joinRoom(inviteLink) {
      const { roomId } = await client.joinRoom(inviteLink);
      loadRooms();
      loadMembers(roomId, false);
      return roomId;
    },
    inviteLink(roomId) {
      void state.inviteRevision[roomId]; // re-read when the link changes (RM-52)
      return client.inviteLink(roomId, origin);
    },
    async resetInviteLink(roomId) {
      const link = await client.resetInviteLink(roomId, origin);
      setState("inviteRevision", roomId, (n) => (n ?? 0) + 1);
      return link;
    },
    setActiveRoom(roomId) {
      batch(() => {
        setState("activeRoom", roomId);
        if (roomId !== undefined) {
          setState("unread", roomId, 0);
          setState("undecryptable", roomId, false);
          setState("forged", roomId, false);
          loadMembers(roomId, false);
        }
      });
    },
    refreshMembers(roomId) {
      loadMembers(roomId, false);
    },
    async send(roomId, text, replyTo) {
      const trimmed = text.replace(/^\s+|\s+$/g, "");
      if (trimmed.length === 0) return;
      this.stopTyping(roomId);
      // Kept (encrypted) in the outbox before this resolves; "outbox" events move the line on.
      onOutbox(await client.queueText(roomId, trimmed, replyTo === undefined ? undefined : { replyTo }));
    },
    async react(roomId, messageId, emoji) {
      await client.react(roomId, messageId, emoji);
    },
    async editMessage(roomId, messageId, text) {
      const trimmed = text.replace(/^\s+|\s+$/g, "");
      if (trimmed.length === 0) return;
      await client.editMessage(roomId, messageId, trimmed);
    },
    async deleteMessage(roomId, messageId) {
      await client.deleteMessage(roomId, messageId);
    },
    async sendFiles(roomId, files, text, onProgress) {
      this.stopTyping(roomId);
      await client.sendFiles(roomId, files, { text: text.replace(/^\s+|\s+$/g, ""), ...(onProgress ? { onProgress } : {}) });
    },
    downloadAttachment(attachment, onProgress) {
      return client.downloadAttachment(attachment, onProgress ? { onProgress } : {});
    },
    async retry(roomId, key) {
      const item = (state.timelines[roomId] ?? []).find((x) => x.key === key && x.status !== "sent");
      if (item?.messageId === undefined) return;
      await client.retryMessage(item.messageId);
    },
    async discard(roomId, key) {
      const item = (state.timelines[roomId] ?? []).find((x) => x.key === key && x.status === "failed");
      if (item?.messageId === undefined) return;
      await client.discardMessage(item.messageId);
      setState("timelines", roomId, (items) => (items ?? []).filter((x) => x.key !== key));
    },
    noteTyping(roomId) {
      const mine = ourTyping.get(roomId);
      const t = now();
      if (mine?.idle !== undefined) clearTimeout(mine.idle);
      const idle = setTimeout(() => this.stopTyping(roomId), TYPING_IDLE_MS);
      if (mine === undefined || t - mine.sentAt >= TYPING_REFRESH_MS) {
        ourTyping.set(roomId, { sentAt: t, idle });
        client.setTyping(roomId, true).catch(() => undefined); // ephemeral: a lost one is harmless
      } else {
        ourTyping.set(roomId, { sentAt: mine.sentAt, idle });
      }
    },
    stopTyping(roomId) {
      const mine = ourTyping.get(roomId);
      if (mine === undefined) return;
      if (mine.idle !== undefined) clearTimeout(mine.idle);
      ourTyping.delete(roomId);
      client.setTyping(roomId, false).catch(() => undefined);
    },
    async leaveRoom(roomId) {
      this.stopTyping(roomId);
      await client.leaveRoom(roomId);
      loadRooms();
    },
    async removeMember(roomId, address) {
      removedByUs.add(`${roomId}\n${address}`);
      await client.removeMember(roomId, address);
      loadMembers(roomId, true);
      loadRooms();
    },
    safetyNumber(roomId, address) {
      return client.safetyNumber(roomId, address);
    },
    async markVerified(address) {
      await client.markVerified(address);
      for (const room of state.rooms) loadMembers(room.roomId, false);
    },
    async acceptIdentityChange(address) {
      await client.acceptIdentityChange(address);
      for (const room of state.rooms) loadMembers(room.roomId, false);
    },
    async setDisplayName(name) {
      await client.setDisplayName(name);
      loadIdentity();
    },
    async setRetention(roomId, retention) {
      await client.setRoomRetention(roomId, retentionSeconds(retention));
    },
    async clearHistory(roomId) {
      if (history !== undefined) await history.clear(roomId);
      // Lines still being sent stay: they are not history yet.
      setState("timelines", roomId, (items) => (items ?? []).filter((i) => i.status !== "sent"));
    },
    async reconnect() {
      await client.stop();
      await client.start();
    },
    async deleteEverything() {
      await client.deleteEverything();
    },
    dispose() {
      disposed = true;
      if (sweeper !== undefined) clearInterval(sweeper);
      for (const off of unsubscribe) off();
      for (const timer of typingTimers.values()) clearTimeout(timer);
      for (const mine of ourTyping.values()) if (mine.idle !== undefined) clearTimeout(mine.idle);
      typingTimers.clear();
      ourTyping.clear();
    },
  };
}
