/**
 * The non-interactive commands: init, room create, join, send, listen, safety-number,
 * members, leave, rooms.
 *
 * Owns: what each command does with a session and prints (data on stdout, notices on
 * stderr). Does not own: parsing (args.ts), formats (format.ts), the interactive chat
 * (chat.ts) or error mapping (errors.ts).
 */

import { parseInviteLink } from "../room/invite.js";
import { isInviteError } from "../room/invite-box.js";
import { type ClientEvents, type OutboxFailureReason, PostFailedError, type RoomSummary, type SecureCommClient } from "../app/securecomm-client.js";
import { parseRelayUrl, RETENTION_SETTINGS, type CommandLine } from "./args.js";
import { initSession, openSession, type CliContext, type Session } from "./context.js";
import { toCliError } from "./errors.js";
import {
  CliError,
  EXIT_FAILURE,
  EXIT_INVALID_INVITE,
  EXIT_OK,
  EXIT_REFUSED,
  EXIT_RELAY_REFUSED,
  EXIT_RELAY_UNREACHABLE,
  EXIT_TIMEOUT,
  EXIT_USAGE,
} from "./exit-codes.js";
import { failureNotice, formatMembers, formatMessageJson, formatUpdateJson, formatNotice, formatRooms, formatSafetyNumber, safeJson, type SavedAttachment, terminalSafe } from "./format.js";
import { readFileToSend, saveReceivedFile } from "./save-files.js";
import { stat } from "node:fs/promises";
import { isProtocolError } from "../errors.js";
import { resolveMember, resolveRoom } from "./resolve.js";
import { disappeared, type InboxMessage, isUpdate, openInbox, type Inbox } from "./inbox.js";
import {
  failWait,
  JOIN_ANSWER_TIMEOUT_MS,
  REMOVE_CONFIRM_TIMEOUT_MS,
  type SendOutcome,
  startOnline,
  waitFor,
  waitSent,
  waitSettled,
} from "./wait.js";

/** Writes one line to standard output. */
export function out(ctx: CliContext, text: string): void {
  ctx.stdout.write(`${text}\n`);
}

/** Writes one notice line to standard error. */
export function note(ctx: CliContext, text: string): void {
  ctx.stderr.write(`${text}\n`);
}

/**
 * The inbox of a command's session: messages no handler claims are kept for a later `listen`
 * (inbox.ts). `claim` registers a handler that returns true for a message it handed to the
 * caller; it returns an unregister function.
 */
export interface SessionInbox {
  readonly inbox: Inbox;
  claim(handler: (m: InboxMessage) => boolean): () => void;
}

/**
 * Opens the session of `line`, runs `run`, and always closes it. Every command but `chat` (which
 * shows its room's messages live) keeps the messages it did not hand over in the inbox; the
 * client is stopped before the inbox is flushed, so no message arrives after the last write.
 */
export async function withSession<T>(
  ctx: CliContext,
  line: CommandLine,
  run: (s: Session, inbox: SessionInbox | undefined) => Promise<T>,
): Promise<T> {
  const session = await openSession(ctx, line);
  let kept: SessionInbox | undefined;
  let offKeep: (() => void) | undefined;
  try {
    if (line.command !== "chat" && session.remote !== true) {
      const inbox = await openInbox(session.store);
      const claims = new Set<(m: InboxMessage) => boolean>();
      // RM-54: the history this home keeps (the inbox) follows each room's disappearing
      // messages: expired ones are deleted now and never kept or printed.
      const retention = () => new Map(session.client.rooms().map((r) => [r.roomId, r.retentionSeconds ?? 0]));
      await inbox.expire(retention(), Date.now());
      const keep = (m: InboxMessage) => {
        if (disappeared(m, retention().get(m.roomId), Date.now())) return;
        for (const claim of claims) if (claim(m)) return;
        inbox.keep(m);
      };
      const offs = [session.client.on("message", keep), session.client.on("message-updated", keep)];
      offKeep = () => offs.forEach((off) => off());
      kept = {
        inbox,
        claim: (handler) => {
          claims.add(handler);
          return () => claims.delete(handler);
        },
      };
    }
    return await run(session, kept);
  } finally {
    if (kept !== undefined) {
      await session.client.stop().catch(() => undefined);
      offKeep?.();
      await kept.inbox.flush().catch(() => note(ctx, formatNotice("Messages received during this run could not be kept for a later listen.")));
    }
    await session.close();
  }
}

/** `init --name NAME`: creates and registers the identity; prints the address. */
export async function runInit(ctx: CliContext, line: CommandLine): Promise<number> {
  const session = await initSession(ctx, line, line.name ?? "");
  try {
    const me = session.client.identity();
    note(ctx, `Identity created for ${terminalSafe(me.displayName)} and registered with the relay.`);
    out(ctx, `address: ${me.address}`);
    return EXIT_OK;
  } finally {
    await session.close();
  }
}

/** `room create NAME`: prints the invite link alone on stdout (so scripts can capture it). */
export async function runRoomCreate(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async ({ client }) => {
    const { inviteLink } = await client.createRoom(line.args[0] ?? "", line.relayUrl);
    out(ctx, inviteLink);
    note(ctx, "Room created. Anyone with this link can join: share it only with the people you want in the room.");
    return EXIT_OK;
  });
}

/** The relay an invite link points at (its origin, spec RM-30), if it is an http(s) URL. */
export function relayFromInvite(link: string): string | undefined {
  const at = link.indexOf("#");
  if (at <= 0) return undefined;
  try {
    return parseRelayUrl(new URL(link.slice(0, at)).origin);
  } catch {
    return undefined;
  }
}

/**
 * `join LINK`: checks the link first (exit 10 if malformed), joins, then waits for a member
 * to answer (roster and sender keys) so the room is usable when the command returns. Nobody
 * answering within an explicit `--timeout` is exit 11 (the join stands; the room id is still
 * printed); within the default wait it is exit 0 with a notice, as the help says.
 */
export async function runJoin(ctx: CliContext, line: CommandLine): Promise<number> {
  const link = line.args[0] ?? "";
  let roomName: string;
  try {
    roomName = parseInviteLink(link).roomName;
  } catch {
    throw new CliError(EXIT_INVALID_INVITE, "That is not a valid invite link.");
  }
  const relayUrl = line.relayExplicit ? line.relayUrl : (relayFromInvite(link) ?? line.relayUrl);
  return withSession(ctx, { ...line, relayUrl }, async ({ client }) => {
    let roomId: string;
    try {
      ({ roomId } = await client.joinRoom(link));
    } catch (e) {
      // RM-51, RM-52: a reset link, a room gone, an unusable box: the sentence says what to do.
      if (isInviteError(e)) throw new CliError(EXIT_RELAY_REFUSED, e.message);
      // The runtime reports an expired invite (the relay refused the join) as a TypeError.
      const mapped = toCliError(e);
      if (mapped.exitCode === EXIT_FAILURE && e instanceof TypeError) {
        throw new CliError(EXIT_RELAY_REFUSED, "The invite has expired or the room no longer exists.");
      }
      throw mapped;
    }
    await startOnline(ctx, client);
    const answered = await waitFor(
      ctx,
      client,
      ["members-changed", "rooms-changed"],
      () => (client.members(roomId).some((m) => !m.isSelf) ? true : undefined),
      line.timeoutMs ?? JOIN_ANSWER_TIMEOUT_MS,
    );
    if (answered.kind === "interrupted") failWait(answered, "");
    out(ctx, roomId);
    if (answered.kind === "timeout") {
      note(ctx, `Joined "${terminalSafe(roomName)}", but no member has answered yet; the room becomes usable when one is online.`);
      if (line.timeoutMs !== undefined) return EXIT_TIMEOUT;
    } else {
      note(ctx, `Joined "${terminalSafe(roomName)}" (${client.members(roomId).length} members).`);
    }
    return EXIT_OK;
  });
}

/** The room `wanted` names, which we must still be in (else exit code 7). */
export function currentRoom(session: Session, wanted: string): RoomSummary {
  const room = resolveRoom(session.client.rooms(), wanted);
  if (room.departed) throw new CliError(EXIT_REFUSED, "You are no longer in that room.");
  return room;
}

/**
 * Refuses to send in a room we joined but no member has answered yet (the runtime cannot
 * encrypt for a roster it does not know).
 */
export function assertJoined(session: Session, room: { roomId: string; isAdmin: boolean }): void {
  if (!room.isAdmin && session.client.members(room.roomId).every((m) => m.isSelf)) {
    throw new CliError(EXIT_REFUSED, "The room is still being joined: no member has answered yet. Try again when one is online.");
  }
}

/**
 * `send ROOM TEXT`: catches up with the relay (backlog processed, keys answered), sends,
 * and exits once everything it queued has gone out.
 */
export async function runSend(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    const room = currentRoom(session, line.args[0] ?? "");
    await startOnline(ctx, session.client);
    await waitSettled(session.client);
    assertJoined(session, resolveRoom(session.client.rooms(), room.roomId));
    if (line.files !== undefined && line.files.length > 0) {
      // RM-70, RM-76: each file encrypted and uploaded, then one message with the pointers. Not
      // through the outbox: a failed upload fails this command, and nothing was posted.
      const files = [];
      for (const path of line.files) {
        try {
          files.push(await readFileToSend(path));
        } catch {
          throw new CliError(EXIT_USAGE, "A --file could not be read, or is empty or over 100 MiB.");
        }
      }
      await session.client.sendFiles(room.roomId, files, { text: line.args[1] ?? "" });
      return EXIT_OK;
    }
    // Through the outbox: stored (encrypted) first, so a relay that goes away mid-send does
    // not lose the message; it waits here a bounded time, else the next run sends it.
    const sent = waitSentAfter(session.client);
    const item = await session.client.queueText(room.roomId, line.args[1] ?? "");
    const outcome = await sent(item.messageId);
    if (outcome.kind === "failed") throw new PostFailedError(outcome.reason as OutboxFailureReason);
    if (outcome.kind === "timeout") {
      throw new CliError(EXIT_RELAY_UNREACHABLE, "The relay did not take the message in time. It stays queued and is sent the next time chat or send runs.");
    }
    return EXIT_OK;
  });
}

/**
 * Starts listening for outbox outcomes before the message is queued (it can be sent before
 * `queueText` resolves), and returns the wait for one message id.
 */
function waitSentAfter(client: SecureCommClient): (messageId: string) => Promise<SendOutcome> {
  const seen = new Map<string, SendOutcome>();
  const off = client.on("outbox", (i) => {
    if (i.status === "sent") seen.set(i.messageId, { kind: "sent", seq: i.seq ?? 0 });
    if (i.status === "failed") seen.set(i.messageId, { kind: "failed", reason: i.reason ?? "rejected" });
  });
  return async (messageId) => {
    try {
      const early = seen.get(messageId);
      return early ?? (await waitSent(client, messageId));
    } finally {
      off();
    }
  };
}

/**
 * `listen ROOM [--count N] [--timeout S] [--include-own]`: one JSON line per message; failures
 * and identity changes as notices on stderr (reported, never silent). Messages kept by earlier
 * runs come first (oldest first); messages past N stay in the inbox for the next run.
 */
export async function runListen(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session, kept) => {
    const { client } = session;
    if (kept === undefined) throw new TypeError("listen runs with an inbox");
    const room = currentRoom(session, line.args[0] ?? "");
    let printed = 0;
    let closedReason: string | undefined;
    const full = () => line.count !== undefined && printed >= line.count;
    const saveDir = line.saveDir;
    if (saveDir !== undefined && !(await isDirectory(saveDir))) throw new CliError(EXIT_USAGE, "--save-dir must name an existing directory.");
    // Lines go out in order; a message's files are downloaded and saved before its line.
    let printing: Promise<void> = Promise.resolve();
    const print = (m: InboxMessage): void => {
      printed++;
      printing = printing.then(async () =>
        out(ctx, isUpdate(m) ? formatUpdateJson(m) : formatMessageJson(m, saveDir === undefined ? [] : await saveAll(client, saveDir, m))),
      );
    };

    const dropped = await kept.inbox.takeDropped();
    if (dropped > 0) note(ctx, formatNotice(`${dropped} message(s) were dropped while nobody listened: the inbox was full.`));
    // Kept messages first: print up to N, then remove what was printed (at least once).
    const handed: string[] = [];
    for (const { key, message } of await kept.inbox.waiting(room.roomId)) {
      if (full()) break;
      // Own messages a run without --include-own would have skipped are removed unprinted.
      if (message !== undefined && (!message.own || line.includeOwn)) print(message);
      handed.push(key);
    }
    await kept.inbox.remove(handed);

    const offs = [
      kept.claim((m) => {
        if (m.roomId !== room.roomId) return false;
        if (m.own && !line.includeOwn) return true;
        if (full()) return false;
        print(m);
        return true;
      }),
      client.on("decryption-failed", (e) => {
        if (e.roomId === undefined || e.roomId === room.roomId) note(ctx, formatNotice(failureNotice(e.reason)));
      }),
      client.on("identity-changed", (e) => {
        if (e.roomId === room.roomId) note(ctx, formatNotice("A member's identity key changed; compare safety numbers before trusting them."));
      }),
      client.on("room-closed", (e) => {
        if (e.roomId === room.roomId) closedReason = e.reason;
      }),
    ];
    try {
      await startOnline(ctx, client);
      const outcome = await waitFor(
        ctx,
        client,
        ["message", "message-updated", "room-closed"],
        () => (closedReason !== undefined ? "closed" : full() ? "count" : undefined),
        line.timeoutMs,
      );
      await printing;
      if (outcome.kind === "done" && outcome.value === "closed") {
        throw new CliError(EXIT_REFUSED, "The room was closed for you (you left or were removed).");
      }
      if (outcome.kind !== "done") failWait(outcome, `Timed out after ${printed} message(s).`);
      return EXIT_OK;
    } finally {
      for (const off of offs) off();
    }
  });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * RM-72, RM-75: downloads each attachment of `m` (digest, MAC and padding checked before any
 * byte is written) and saves it under a safe name in `dir`; a refused file is reported by its
 * error code and nothing of it is written.
 */
async function saveAll(client: SecureCommClient, dir: string, m: ClientEvents["message"]): Promise<SavedAttachment[]> {
  const results: SavedAttachment[] = [];
  for (const a of m.attachments ?? []) {
    try {
      const data = await client.downloadAttachment(a);
      results.push({ saved: await saveReceivedFile(dir, a.fileName, data) });
    } catch (e) {
      results.push({ error: isProtocolError(e) ? e.code : "download_failed" });
    }
  }
  return results;
}

/** `safety-number ROOM MEMBER`: the 60 digits in 12 groups (or JSON with `--json`). */
export async function runSafetyNumber(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    const room = resolveRoom(session.client.rooms(), line.args[0] ?? "");
    const member = resolveMember(session.client.members(room.roomId), line.args[1] ?? "");
    if (member.isSelf) throw new CliError(EXIT_USAGE, "That is you; a safety number is between you and another member.");
    const { digits } = await session.client.safetyNumber(room.roomId, member.address);
    if (line.json) {
      out(ctx, safeJson({ member: member.address, displayName: member.displayName, digits, verification: member.verification }));
    } else {
      out(ctx, formatSafetyNumber(digits));
      note(ctx, `Compare these digits with what ${terminalSafe(member.displayName)} sees. If they match, mark them verified with /verify in chat.`);
    }
    return EXIT_OK;
  });
}

/** `members ROOM`: a table (or JSON) of the room's members. */
export async function runMembers(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    const room = resolveRoom(session.client.rooms(), line.args[0] ?? "");
    out(ctx, formatMembers(session.client.members(room.roomId), line.json));
    return EXIT_OK;
  });
}

/** `leave ROOM`: leaves; the remaining members rotate their keys. */
export async function runLeave(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    const room = currentRoom(session, line.args[0] ?? "");
    await session.client.leaveRoom(room.roomId);
    note(ctx, `Left "${terminalSafe(room.name)}".`);
    return EXIT_OK;
  });
}

/**
 * `remove ROOM MEMBER`: the admin removes a member (spec RM-12); the others rotate the room's
 * keys. Refused (exit 7) for a non-admin, for ourselves (use `leave`), or in a room we left.
 */
export async function runRemove(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    const room = currentRoom(session, line.args[0] ?? "");
    const member = resolveMember(session.client.members(room.roomId), line.args[1] ?? "");
    if (member.isSelf) throw new CliError(EXIT_REFUSED, 'That is you; use "securecomm leave ROOM" to leave.');
    if (!room.isAdmin) throw new CliError(EXIT_REFUSED, "Only the room's admin can remove members.");
    // Catch up first, so the removal is ordered after everything already posted.
    await startOnline(ctx, session.client);
    await waitSettled(session.client);
    await session.client.removeMember(room.roomId, member.address);
    // The admin applies its own Remove when the relay's ordered copy comes back (RM-12), so
    // wait for that before exiting: otherwise `members` right after would still list them.
    const applied = await waitFor(
      ctx,
      session.client,
      ["members-changed", "rooms-changed"],
      () => (session.client.members(room.roomId).some((m) => m.address === member.address) ? undefined : true),
      REMOVE_CONFIRM_TIMEOUT_MS,
    );
    if (applied.kind !== "done") failWait(applied, "The removal was posted but the relay has not ordered it yet; check with \"securecomm members ROOM\" later.");
    note(ctx, `Removed ${terminalSafe(member.displayName)} from "${terminalSafe(room.name)}"; the room's keys rotate.`);
    return EXIT_OK;
  });
}

/** `rooms`: a table (or JSON) of the rooms in this home directory. */
export async function runRooms(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    out(ctx, formatRooms(session.client.rooms(), line.json));
    return EXIT_OK;
  });
}

/** The CLI's word for a retention in seconds (spec RM-54); other values are shown in seconds. */
export function retentionWord(seconds: number): string {
  const word = Object.entries(RETENTION_SETTINGS).find(([, v]) => v === seconds)?.[0];
  return word ?? `${seconds} seconds`;
}

/**
 * `invite ROOM [--reset]`: catches up (so the link is the current one, spec RM-50) and prints
 * the room's invite link; `--reset` replaces it (the admin only, RM-52).
 */
export async function runInvite(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    const room = currentRoom(session, line.args[0] ?? "");
    // Asking an open chat (issue 12 item 9): it is online and current already.
    if (session.remote !== true) {
      await startOnline(ctx, session.client);
      await waitSettled(session.client);
    }
    const fresh = resolveRoom(session.client.rooms(), room.roomId);
    if (line.reset === true) {
      if (!fresh.isAdmin) throw new CliError(EXIT_REFUSED, "Only the room's admin can reset the invite link.");
      out(ctx, await session.client.resetInviteLink(room.roomId, line.relayUrl));
      // Wait until the members have been told, so the new link reaches them even if we exit now.
      await waitSettled(session.client);
      note(ctx, "The invite link was reset: the old link no longer works, and every member's client now has the new one.");
      return EXIT_OK;
    }
    if (fresh.hasInviteLink !== true) {
      throw new CliError(EXIT_REFUSED, fresh.isAdmin ? 'This room has no invite link yet: run "securecomm invite ROOM --reset" to make one.' : "This room has no invite link yet: ask its admin to reset the link.");
    }
    out(ctx, session.client.inviteLink(room.roomId, line.relayUrl));
    note(ctx, "Anyone with this link can join: share it only with the people you want in the room.");
    return EXIT_OK;
  });
}

/**
 * `retention ROOM [--set SETTING]`: prints the room's disappearing-messages setting, or sets it
 * for every member (spec RM-54: any member may) and waits until the relay ordered it.
 */
export async function runRetention(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    const room = currentRoom(session, line.args[0] ?? "");
    if (session.remote !== true) {
      await startOnline(ctx, session.client);
      await waitSettled(session.client);
    }
    if (line.retentionSeconds === undefined) {
      out(ctx, retentionWord(resolveRoom(session.client.rooms(), room.roomId).retentionSeconds ?? 0));
      return EXIT_OK;
    }
    assertJoined(session, resolveRoom(session.client.rooms(), room.roomId));
    const wanted = line.retentionSeconds;
    let applied = false;
    const off = session.client.on("settings-changed", (e) => {
      if (e.roomId === room.roomId && e.own && e.retentionSeconds === wanted) applied = true;
    });
    try {
      await session.client.setRoomRetention(room.roomId, wanted);
      const done = await waitFor(ctx, session.client, ["settings-changed"], () => (applied ? true : undefined), REMOVE_CONFIRM_TIMEOUT_MS);
      if (done.kind !== "done") failWait(done, "The setting was posted but the relay has not ordered it yet; check with \"securecomm retention ROOM\" later.");
    } finally {
      off();
    }
    note(ctx, `Disappearing messages in "${terminalSafe(room.name)}" set to ${retentionWord(wanted)} for every member.`);
    return EXIT_OK;
  });
}
