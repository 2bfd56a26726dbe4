/**
 * A room: the timeline in relay order, grouped by sender, the composer, the member list with
 * verification states, typing indicators, invite sharing, key-change warnings, leave and
 * remove (DESIGN.md §6). Owns layout and local UI state; the session does the work.
 */

import { createEffect, createMemo, createSignal, For, on, onCleanup, onMount, Show } from "solid-js";
import type { MemberView, RoomSummary } from "../../../client/app/securecomm-client.js";
import { Avatar } from "../components/avatar.js";
import {
  DECRYPTION_FAILED_SENTENCE,
  errorSentence,
  FORGED_CHANGE_SENTENCE,
  outboxSentence,
  roomClosedSentence,
} from "../lib/error-messages.js";
import { formatFullTime, formatMessageTime, typingSentence } from "../lib/format.js";
import { linkify } from "../lib/linkify.js";
import { groupMessages, type TimelineItem } from "../lib/message-groups.js";
import { RETENTIONS, type Retention } from "../../../client/vault/room-history.js";
import { InvitePanel } from "./invite-panel.js";
import { MAX_MESSAGE_BYTES, SHOW_MESSAGE_COUNTER_BYTES } from "./limits.js";
import { MemberList } from "./member-list.js";
import { excerpt, ReactionPicker, Reactions, ReplyQuote, TOMBSTONE_SENTENCE } from "./message-extras.js";
import type { AttachmentView, OutgoingFile } from "../../../client/app/securecomm-client.js";
import { AttachmentItem } from "../components/attachment-view.js";
import { formatSize, prepareFile, voiceNote } from "../lib/attachment-files.js";

/** Files per message (spec/09-rooms.md RM-70): more are sent as several messages. */
export const FILES_PER_MESSAGE = 4;
/** Longest voice note recorded in the app: a bound on memory and upload size. */
export const MAX_VOICE_NOTE_MS = 5 * 60 * 1000;

/**
 * How close to the bottom (in CSS pixels) still counts as "reading the newest messages", so
 * new ones scroll into view; about two lines of text.
 */
export const STICK_TO_BOTTOM_PX = 48;

/** Words for each retention in the room's history menu. */
export const RETENTION_LABELS: Readonly<Record<Retention, string>> = {
  keep: "Off (keep messages)",
  week: "After 1 week",
  day: "After 1 day",
  hour: "After 1 hour",
};

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

/** Message text with http(s) links made clickable (lib/linkify.ts); everything else is text. */
function MessageText(props: { text: string }) {
  return (
    <p class="bubble-text" dir="auto">
      <For each={linkify(props.text)}>
        {(part) =>
          part.kind === "link" ? (
            <a href={part.href} target="_blank" rel="noopener noreferrer nofollow ugc">{part.text}</a>
          ) : (
            part.text
          )
        }
      </For>
    </p>
  );
}

/** Props of {@link RoomView}. */
export interface RoomViewProps {
  room: RoomSummary;
  timeline: readonly TimelineItem[];
  members: readonly MemberView[];
  typingNames: readonly string[];
  closedReason: string | undefined;
  undecryptable: boolean;
  /** A member tried to edit or delete someone else's message (RM-63, RM-64). */
  forged?: boolean;
  inviteLink: () => string;
  /** The admin replaces the invite link (spec RM-52); resolves with the new one. */
  onResetLink?: () => Promise<string>;
  /** Open the invite panel at once (right after creating the room). */
  showInvite?: boolean;
  /** Sends `text`, answering `replyTo` (a message id) when set (RM-61). */
  onSend: (text: string, replyTo?: string) => Promise<void>;
  /** Sets our reaction to a message, or takes it back with `undefined` (RM-62). */
  onReact?: (messageId: string, emoji: string | undefined) => Promise<void>;
  /** Replaces the text of our own message (RM-63). */
  onEdit?: (messageId: string, text: string) => Promise<void>;
  /** Deletes our own message for everyone (RM-64). */
  onDelete?: (messageId: string) => Promise<void>;
  onRetry: (key: string) => Promise<void>;
  /** Drops a failed message. */
  onDiscard?: (key: string) => Promise<void>;
  onTyping: () => void;
  onStopTyping: () => void;
  onLeave: () => Promise<void>;
  onRemove: (address: string) => Promise<void>;
  onVerify: (address: string) => void;
  onAcceptChange: (address: string) => Promise<void>;
  /** The room's disappearing messages, for every member (spec RM-54). */
  retention?: Retention;
  onRetention?: (retention: Retention) => Promise<void>;
  onClearHistory?: () => Promise<void>;
  /** Messages from others that were unread when the room opened (draws the "new" line). */
  unreadAtOpen?: number;
  /** True while the relay connection is down (the banner). */
  disconnected?: boolean;
  /** Encrypts, uploads and sends files with the draft text (issue 13). */
  onSendFiles?: (files: readonly OutgoingFile[], text: string, onProgress: (index: number, done: number, total: number) => void) => Promise<void>;
  /** Downloads and opens an attachment. */
  onDownload?: (a: AttachmentView, onProgress: (done: number, total: number) => void) => Promise<Uint8Array>;
}

/** The room screen. */
export function RoomView(props: RoomViewProps) {
  const [draft, setDraft] = createSignal("");
  const [sendError, setSendError] = createSignal<string>();
  const [actionError, setActionError] = createSignal<string>();
  const [inviteOpen, setInviteOpen] = createSignal(props.showInvite === true);
  const [confirmLeave, setConfirmLeave] = createSignal(false);
  const [leaving, setLeaving] = createSignal(false);
  const [confirmClear, setConfirmClear] = createSignal(false);
  const [below, setBelow] = createSignal(0);
  let timelineEl: HTMLOListElement | undefined;
  let composerEl: HTMLTextAreaElement | undefined;
  const draftBytes = createMemo(() => utf8Length(draft()));
  const [uploads, setUploads] = createSignal<{ name: string; done: number; total: number }[]>([]);
  const [recording, setRecording] = createSignal<{ stop: () => void; startedAt: number }>();
  let fileInputEl: HTMLInputElement | undefined;
  // RM-61..RM-64: the message being answered or edited, the open reaction picker, the delete
  // being confirmed (each by message id), and the message just jumped to (highlighted).
  const [replyTo, setReplyTo] = createSignal<string>();
  const [editing, setEditing] = createSignal<string>();
  const [pickerFor, setPickerFor] = createSignal<string>();
  const [confirmDelete, setConfirmDelete] = createSignal<string>();
  const [flash, setFlash] = createSignal<string>();
  const byId = createMemo(() => new Map(props.timeline.filter((i) => i.messageId !== undefined && i.kind === "message").map((i) => [i.messageId!, i] as const)));
  const replyTarget = () => (replyTo() === undefined ? undefined : byId().get(replyTo()!));
  const jumpTo = (messageId: string) => {
    const el = timelineEl?.querySelector(`[data-message-id="${messageId}"]`);
    if (!(el instanceof HTMLElement)) return;
    stickToBottom = false;
    el.scrollIntoView({ block: "center" });
    setFlash(messageId);
    setTimeout(() => setFlash((f) => (f === messageId ? undefined : f)), 1500);
  };
  const toggleReaction = (item: TimelineItem, emoji: string) => {
    setPickerFor(undefined);
    const self = me()?.address;
    const mine = item.reactions?.find((r) => r.members.some((m) => m.address === self))?.emoji;
    void run("react", () => props.onReact!(item.messageId!, mine === emoji ? undefined : emoji));
  };
  const startEdit = (item: TimelineItem) => {
    setReplyTo(undefined);
    setEditing(item.messageId);
    setDraft(item.text);
    composerEl?.focus();
  };
  const cancelCompose = () => {
    if (editing() !== undefined) setDraft("");
    setEditing(undefined);
    setReplyTo(undefined);
  };
  const tooLong = () => draftBytes() > MAX_MESSAGE_BYTES;


  // The first message that was unread when the room opened: the "New messages" line goes
  // above it. Counted from the end among others' messages, fixed for this visit.
  const firstUnreadKey = (() => {
    const n = props.unreadAtOpen ?? 0;
    if (n <= 0) return undefined;
    const theirs = props.timeline.filter((i) => i.kind === "message" && !i.own);
    return theirs[Math.max(0, theirs.length - n)]?.key;
  })();
  const groups = createMemo(() => groupMessages(props.timeline, firstUnreadKey));
  const changed = createMemo(() => props.members.filter((m) => !m.isSelf && m.verification === "changed"));
  /**
   * Sending is closed once we left or were removed. "access-denied" is the client waiting for the
   * room's rotated key (RM-14): messages typed meanwhile wait in the outbox, so the composer stays.
   */
  const closed = () => props.room.departed || (props.closedReason !== undefined && props.closedReason !== "access-denied");
  const held = () => changed().length > 0;
  /** We are out of the room for good (left or removed), not just waiting for a rotated key. */
  const gone = () => props.room.departed || props.closedReason === "removed" || props.closedReason === "left";
  const me = createMemo(() => props.members.find((m) => m.isSelf));

  // Keep the newest message in view as the timeline grows or the window resizes, unless the
  // reader scrolled up to read older messages.
  let stickToBottom = true;
  const toBottom = () => {
    if (timelineEl && stickToBottom) timelineEl.scrollTop = timelineEl.scrollHeight;
  };
  createEffect(
    on(
      () => props.timeline.length,
      (length, before) => {
        // Reading older messages: count what arrived below instead of jumping away.
        if (!stickToBottom && before !== undefined && length > before) setBelow((n) => n + (length - before));
        toBottom();
      },
    ),
  );
  const jumpToLatest = () => {
    stickToBottom = true;
    setBelow(0);
    if (timelineEl) timelineEl.scrollTop = timelineEl.scrollHeight;
    composerEl?.focus();
  };
  onMount(() => {
    // Focus lands in the composer, not on the page body (after Join, or opening a room).
    if (!closed()) composerEl?.focus();
    if (typeof ResizeObserver === "undefined" || timelineEl === undefined) return;
    const observer = new ResizeObserver(toBottom);
    observer.observe(timelineEl);
    onCleanup(() => observer.disconnect());
  });
  const onTimelineScroll = () => {
    if (timelineEl) stickToBottom = timelineEl.scrollHeight - timelineEl.scrollTop - timelineEl.clientHeight < STICK_TO_BOTTOM_PX;
    if (stickToBottom) setBelow(0);
  };

  const send = async () => {
    const text = draft();
    if (text.trim().length === 0 || closed() || held()) return;
    if (tooLong()) {
      // Refused, never cut: the draft stays as typed so nothing is lost.
      setSendError(`This message is too long to send: ${draftBytes() - MAX_MESSAGE_BYTES} bytes over the limit of ${MAX_MESSAGE_BYTES}. Shorten it or split it in two.`);
      return;
    }
    const edited = editing();
    const answering = replyTo();
    setDraft("");
    setSendError(undefined);
    setEditing(undefined);
    setReplyTo(undefined);
    if (edited !== undefined && props.onEdit !== undefined) {
      try {
        await props.onEdit(edited, text);
      } catch (e) {
        setSendError(errorSentence(e, "edit"));
      }
      return;
    }
    stickToBottom = true; // your own message always comes into view
    try {
      await props.onSend(text, answering);
    } catch (e) {
      setSendError(errorSentence(e, "send"));
    }
  };

  /** Sends files (picker, drop, paste, voice note), up to four per message, with the draft as caption. */
  const sendFiles = async (files: readonly File[] | readonly OutgoingFile[]) => {
    if (!props.onSendFiles || files.length === 0 || closed() || held()) return;
    setSendError(undefined);
    stickToBottom = true;
    try {
      const prepared = await Promise.all(files.map((f) => (f instanceof File ? prepareFile(f) : Promise.resolve(f))));
      const text = draft().trim();
      setDraft("");
      for (let i = 0; i < prepared.length; i += FILES_PER_MESSAGE) {
        const group = prepared.slice(i, i + FILES_PER_MESSAGE);
        setUploads(group.map((f) => ({ name: f.fileName ?? "file", done: 0, total: f.data.length })));
        await props.onSendFiles(group, i === 0 ? text : "", (index, done, total) =>
          setUploads((u) => u.map((x, j) => (j === index ? { ...x, done, total } : x))),
        );
      }
    } catch (e) {
      setSendError(errorSentence(e, "attach"));
    } finally {
      setUploads([]);
    }
  };

  /** Records a voice note with MediaRecorder until stopped (or the length bound). */
  const toggleRecording = async () => {
    const r = recording();
    if (r) {
      r.stop();
      return;
    }
    setSendError(undefined);
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const recorder = new MediaRecorder(stream);
      const parts: Blob[] = [];
      const startedAt = performance.now();
      const limit = setTimeout(() => recorder.stop(), MAX_VOICE_NOTE_MS);
      recorder.ondataavailable = (e) => {
        if (e.data.size > 0) parts.push(e.data);
      };
      recorder.onstop = () => {
        clearTimeout(limit);
        stream.getTracks().forEach((t) => t.stop());
        setRecording(undefined);
        const type = recorder.mimeType || "audio/webm";
        void new Blob(parts, { type }).arrayBuffer().then((buf) => {
          if (buf.byteLength > 0) void sendFiles([voiceNote(new Uint8Array(buf), type, performance.now() - startedAt)]);
        });
      };
      recorder.start();
      setRecording({ stop: () => recorder.stop(), startedAt });
    } catch (e) {
      setSendError(errorSentence(e, "record"));
    }
  };

  const onKeyDown = (e: KeyboardEvent) => {
    // Enter sends; Shift+Enter (and Enter while an input method composes) makes a new line.
    if (e.key === "Escape" && (editing() !== undefined || replyTo() !== undefined)) {
      e.preventDefault();
      cancelCompose();
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  const leave = async () => {
    setLeaving(true);
    setActionError(undefined);
    try {
      await props.onLeave();
    } catch (e) {
      setActionError(errorSentence(e, "leave-room"));
    } finally {
      setLeaving(false);
      setConfirmLeave(false);
    }
  };

  const run = async (action: Parameters<typeof errorSentence>[1], work: () => Promise<void>) => {
    setActionError(undefined);
    try {
      await work();
    } catch (e) {
      setActionError(errorSentence(e, action));
    }
  };

  return (
    <div class="room">
      <header class="room-header">
        <div class="room-title">
          <h1>{props.room.name}</h1>
          <p class="room-subtitle">
            <Show
              when={!gone()}
              fallback={props.closedReason === "removed" ? "You were removed from this room" : "You are no longer in this room"}
            >
              {props.members.length} {props.members.length === 1 ? "member" : "members"} · end-to-end encrypted
            </Show>
          </p>
        </div>
        <div class="room-actions">
          <Show when={!closed()}>
            <button type="button" onClick={() => setInviteOpen(!inviteOpen())} aria-expanded={inviteOpen()}>
              Share invite
            </button>
            <Show
              when={confirmLeave()}
              fallback={<button type="button" class="quiet" onClick={() => setConfirmLeave(true)}>Leave</button>}
            >
              <span class="confirm">
                <button type="button" class="danger" onClick={leave} disabled={leaving()}>
                  {leaving() ? "Leaving…" : "Yes, leave"}
                </button>
                <button type="button" class="quiet" onClick={() => setConfirmLeave(false)} disabled={leaving()}>
                  Stay
                </button>
              </span>
            </Show>
          </Show>
        </div>
      </header>

      <Show when={props.onRetention}>
        <div class="history-controls">
          <label for="retention" title="Every member's app deletes messages older than this; every member sees who changed it.">
            Disappearing messages (for everyone)
          </label>
          <select
            id="retention"
            value={props.retention ?? "keep"}
            onChange={(e) => void run("history", () => props.onRetention!(e.currentTarget.value as Retention))}
          >
            <For each={RETENTIONS}>{(r) => <option value={r}>{RETENTION_LABELS[r]}</option>}</For>
          </select>
          <Show
            when={confirmClear()}
            fallback={<button type="button" class="quiet" onClick={() => setConfirmClear(true)}>Clear history…</button>}
          >
            <span class="confirm">
              <button
                type="button"
                class="danger"
                onClick={() => void run("history", async () => { await props.onClearHistory?.(); setConfirmClear(false); })}
              >
                Yes, clear this room's history
              </button>
              <button type="button" class="quiet" onClick={() => setConfirmClear(false)}>Keep it</button>
            </span>
          </Show>
        </div>
      </Show>

      <Show when={props.disconnected && !closed()}>
        <p class="banner warning" role="status" data-testid="disconnected">
          Not connected to the relay. SecureComm keeps trying: what you send waits in the outbox on this
          device (encrypted) and goes out in order once the relay is back.
        </p>
      </Show>

      <Show when={inviteOpen() && !closed()}>
        <InvitePanel
          link={props.inviteLink}
          {...(props.room.isAdmin && props.onResetLink !== undefined ? { onReset: props.onResetLink } : {})}
          onClose={() => setInviteOpen(false)}
        />
      </Show>

      <Show when={closed() || props.closedReason === "access-denied"}>
        <p class="banner info" role="status">{roomClosedSentence(props.closedReason ?? "left")}</p>
      </Show>
      <For each={changed()}>
        {(member) => (
          <div class="banner warning" role="alert" data-testid="identity-changed">
            <p>
              <strong>{member.displayName}'s safety number has changed.</strong> They may have
              reinstalled SecureComm, or someone may be trying to intercept messages. Sending in
              this room is paused until you review it.
            </p>
            <div class="actions">
              <button type="button" onClick={() => props.onVerify(member.address)}>Review safety number</button>
              <button type="button" class="quiet" onClick={() => run("accept-change", () => props.onAcceptChange(member.address))}>
                Accept and continue
              </button>
            </div>
          </div>
        )}
      </For>
      <Show when={props.undecryptable}>
        <p class="banner warning" role="status">{DECRYPTION_FAILED_SENTENCE}</p>
      </Show>
      <Show when={props.forged}>
        <p class="banner warning" role="status" data-testid="forged">{FORGED_CHANGE_SENTENCE}</p>
      </Show>
      <Show when={actionError()}>
        <p class="error" role="alert">{actionError()}</p>
      </Show>

      <div class="room-body">
        <section
          class="conversation"
          aria-label="Conversation"
          onDragOver={(e) => {
            if (props.onSendFiles && e.dataTransfer?.types.includes("Files")) e.preventDefault();
          }}
          onDrop={(e) => {
            const files = [...(e.dataTransfer?.files ?? [])];
            if (files.length === 0 || !props.onSendFiles) return;
            e.preventDefault();
            void sendFiles(files);
          }}
        >
          <ol class="timeline" ref={timelineEl} onScroll={onTimelineScroll} aria-live="polite" aria-relevant="additions">
            <Show when={props.timeline.length === 0}>
              <li class="timeline-empty">
                <Show
                  when={props.members.length <= 1 && !props.room.isAdmin && !closed()}
                  fallback="No messages yet. Messages are kept on this device, encrypted, for as long as the history setting above says."
                >
                  Joining… waiting for a member's device to welcome yours and share the room's keys.
                </Show>
              </li>
            </Show>
            <For each={groups()}>
              {(group) => (
                <>
                <Show when={firstUnreadKey !== undefined && group.items.some((i) => i.key === firstUnreadKey)}>
                  <li class="new-messages" data-testid="new-messages" role="separator">New messages</li>
                </Show>
                <Show
                  when={group.kind === "message"}
                  fallback={<li class="timeline-event" dir="auto">{group.items[0]?.text}</li>}
                >
                  <li class="message-group" classList={{ own: group.own }}>
                    <Show when={!group.own}>
                      <Avatar name={group.senderName} address={group.sender} />
                    </Show>
                    <div class="message-stack">
                      <div class="message-meta">
                        <span class="sender" dir="auto">{group.own ? "You" : group.senderName}</span>
                        <time dateTime={new Date(group.atMs).toISOString()} title={formatFullTime(group.atMs)}>
                          {formatMessageTime(group.atMs)}
                        </time>
                      </div>
                      <For each={group.items}>
                        {(item) => (
                          <div
                            class="bubble"
                            classList={{ deleted: item.deleted === true, flash: item.messageId !== undefined && flash() === item.messageId }}
                            data-status={item.status}
                            data-testid="message"
                            data-message-id={item.messageId}
                          >
                            <Show when={item.replyTo}>
                              {(target) => <ReplyQuote target={byId().get(target())} onJump={() => jumpTo(target())} />}
                            </Show>
                            <Show when={item.deleted !== true} fallback={<p class="bubble-text tombstone" data-testid="tombstone">{TOMBSTONE_SENTENCE}</p>}>
                              <Show when={item.text.length > 0}>
                                <MessageText text={item.text} />
                              </Show>
                              <For each={item.attachments ?? []}>
                                {(a) => (
                                  <AttachmentItem
                                    attachment={a}
                                    onDownload={(x, p) => (props.onDownload ? props.onDownload(x, p) : Promise.reject(new Error("no download")))}
                                  />
                                )}
                              </For>
                            </Show>
                            <Show when={item.edited === true && item.deleted !== true}>
                              <span class="edited" data-testid="edited">edited</span>
                            </Show>
                            <Show when={item.reactions !== undefined && item.reactions.length > 0 && props.onReact !== undefined}>
                              <Reactions reactions={item.reactions!} self={me()?.address} onToggle={(emoji) => toggleReaction(item, emoji)} />
                            </Show>
                            <Show when={item.status === "sent" && item.deleted !== true && item.messageId !== undefined && !closed() && props.onReact !== undefined}>
                              <div class="message-actions">
                                <button type="button" class="link-button" data-testid="reply" onClick={() => { setEditing(undefined); setReplyTo(item.messageId); composerEl?.focus(); }}>
                                  Reply
                                </button>
                                <button type="button" class="link-button" data-testid="react" aria-expanded={pickerFor() === item.messageId} onClick={() => setPickerFor(pickerFor() === item.messageId ? undefined : item.messageId)}>
                                  React
                                </button>
                                <Show when={item.own && props.onEdit !== undefined}>
                                  <button type="button" class="link-button" data-testid="edit" onClick={() => startEdit(item)}>
                                    Edit
                                  </button>
                                </Show>
                                <Show when={item.own && props.onDelete !== undefined}>
                                  <Show
                                    when={confirmDelete() === item.messageId}
                                    fallback={<button type="button" class="link-button" data-testid="delete" onClick={() => setConfirmDelete(item.messageId)}>Delete</button>}
                                  >
                                    <span class="confirm">
                                      <button type="button" class="link-button danger" data-testid="confirm-delete" onClick={() => { setConfirmDelete(undefined); void run("delete-message", () => props.onDelete!(item.messageId!)); }}>
                                        Delete for everyone
                                      </button>{" "}
                                      <button type="button" class="link-button" onClick={() => setConfirmDelete(undefined)}>Keep</button>
                                    </span>
                                  </Show>
                                </Show>
                              </div>
                              <Show when={pickerFor() === item.messageId}>
                                <ReactionPicker onPick={(emoji) => toggleReaction(item, emoji)} onClose={() => setPickerFor(undefined)} />
                              </Show>
                            </Show>
                            <Show when={item.own && item.status !== "sent"}>
                              <span class="bubble-status" data-testid="send-status">
                                <Show when={item.status === "sending"}>Sending…</Show>
                                <Show when={item.status === "queued"}>
                                  {outboxSentence(item.reason, false)}{" "}
                                  <Show when={item.reason !== undefined}>
                                    <button type="button" class="link-button" onClick={() => run("send", () => props.onRetry(item.key))}>
                                      Try now
                                    </button>
                                  </Show>
                                </Show>
                                <Show when={item.status === "failed"}>
                                  {outboxSentence(item.reason, true)}{" "}
                                  <button type="button" class="link-button" onClick={() => run("send", () => props.onRetry(item.key))}>
                                    Retry
                                  </button>{" "}
                                  <Show when={props.onDiscard}>
                                    <button type="button" class="link-button" onClick={() => run("send", () => props.onDiscard!(item.key))}>
                                      Discard
                                    </button>
                                  </Show>
                                </Show>
                              </span>
                            </Show>
                          </div>
                        )}
                      </For>
                    </div>
                  </li>
                </Show>
                </>
              )}
            </For>
          </ol>
          <Show when={below() > 0}>
            <button type="button" class="jump-latest" onClick={jumpToLatest} data-testid="jump-latest">
              {below()} new {below() === 1 ? "message" : "messages"} · Jump to latest ↓
            </button>
          </Show>
          <p class="typing" aria-live="polite" data-testid="typing">
            {typingSentence(props.typingNames)}
          </p>
          <Show when={replyTo() !== undefined || editing() !== undefined}>
            <div class="composing" data-testid="composing">
              <span>
                <Show when={editing() !== undefined} fallback={<>Replying to <strong dir="auto">{replyTarget()?.own ? "yourself" : (replyTarget()?.senderName ?? "a message")}</strong>: <span dir="auto">{excerpt(replyTarget()?.text ?? "")}</span></>}>
                  Editing your message
                </Show>
              </span>
              <button type="button" class="link-button" data-testid="cancel-compose" onClick={cancelCompose}>Cancel</button>
            </div>
          </Show>
          <form
            class="composer"
            onSubmit={(e) => {
              e.preventDefault();
              void send();
            }}
          >
            <label for="composer-input" class="visually-hidden">Message</label>
            <textarea
              id="composer-input"
              ref={composerEl}
              rows={1}
              dir="auto"
              aria-invalid={tooLong()}
              placeholder={closed() ? "This room is closed" : held() ? "Review the safety number change to keep sending" : "Write a message…"}
              value={draft()}
              disabled={closed() || held()}
              aria-describedby="composer-help"
              onInput={(e) => {
                setDraft(e.currentTarget.value);
                if (e.currentTarget.value.length > 0) props.onTyping();
                else props.onStopTyping();
              }}
              onKeyDown={onKeyDown}
              onPaste={(e) => {
                const files = [...(e.clipboardData?.files ?? [])];
                if (files.length === 0 || !props.onSendFiles) return;
                e.preventDefault();
                void sendFiles(files);
              }}
            />
            <Show when={props.onSendFiles}>
              <input
                type="file"
                multiple
                class="visually-hidden"
                ref={fileInputEl}
                data-testid="attach-input"
                aria-label="Attach files"
                tabIndex={-1}
                onChange={(e) => {
                  const files = [...(e.currentTarget.files ?? [])];
                  e.currentTarget.value = "";
                  void sendFiles(files);
                }}
              />
              <button type="button" class="quiet" disabled={closed() || held() || uploads().length > 0} onClick={() => fileInputEl?.click()} data-testid="attach">
                Attach
              </button>
              <button
                type="button"
                class="quiet"
                classList={{ recording: recording() !== undefined }}
                disabled={closed() || held() || uploads().length > 0}
                onClick={() => void toggleRecording()}
                aria-pressed={recording() !== undefined}
                data-testid="record"
              >
                {recording() ? "Stop and send" : "Voice"}
              </button>
            </Show>
            <button type="submit" class="primary" disabled={closed() || held() || draft().trim().length === 0 || tooLong()}>
              {editing() !== undefined ? "Save" : "Send"}
            </button>
            <p id="composer-help" class="visually-hidden">
              Enter sends. Shift and Enter starts a new line. A message can have up to {MAX_MESSAGE_BYTES} bytes.
            </p>
          </form>
          <Show when={draftBytes() > SHOW_MESSAGE_COUNTER_BYTES}>
            <p class="composer-counter" classList={{ over: tooLong() }} data-testid="composer-counter" aria-live="polite">
              <Show when={tooLong()} fallback={`${MAX_MESSAGE_BYTES - draftBytes()} bytes left (limit ${MAX_MESSAGE_BYTES})`}>
                Too long: {draftBytes() - MAX_MESSAGE_BYTES} bytes over the limit of {MAX_MESSAGE_BYTES}. Shorten it to send.
              </Show>
            </p>
          </Show>
          <For each={uploads()}>
            {(u) => (
              <p class="upload" data-testid="upload-progress">
                <span dir="auto">{u.name}</span> ({formatSize(u.total)}){" "}
                <progress max={u.total || 1} value={u.done} aria-label={`Uploading ${u.name}`} />
              </p>
            )}
          </For>
          <Show when={sendError()}>
            <p class="error" role="alert">{sendError()}</p>
          </Show>
        </section>

        <Show when={!gone()}>
          <MemberList
            members={props.members}
            canRemove={me()?.isAdmin === true && !closed()}
            onVerify={props.onVerify}
            onRemove={(address) => run("remove-member", () => props.onRemove(address))}
          />
        </Show>
      </div>
    </div>
  );
}
