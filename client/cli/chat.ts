/**
 * `securecomm chat ROOM`: the interactive chat on node:readline.
 *
 * Owns: the chat loop: lines typed are sent in order; incoming messages, joins and leaves,
 * typing indicators, identity changes, decryption failures and connection changes appear
 * above the prompt without disturbing what is being typed (on a terminal, the prompt line is
 * cleared, the message printed, and the prompt with the typed text redrawn); the slash
 * commands. Messages are numbered (`#N`, in the order this chat showed them, your own included
 * once sent) so `/reply N`, `/react N`, `/edit N` and `/delete N` can name them; replies show
 * a quote of their target, edits, deletes and reactions a line naming the message (spec
 * /09-rooms.md RM-61..RM-64). Works the same with piped stdin/stdout (no prompt; one line per event), which is
 * how tests drive it. Does not own: formats (format.ts) or the client.
 */

import { clearLine, createInterface, cursorTo } from "node:readline";
import type { ClientEvents, MemberView } from "../app/securecomm-client.js";
import { echoableWord, type CommandLine } from "./args.js";
import { assertJoined, currentRoom, withSession } from "./commands.js";
import type { CliContext } from "./context.js";
import { toCliError } from "./errors.js";
import { EXIT_OK } from "./exit-codes.js";
import { failureNotice, formatChatLine, formatMembers, formatNotice, formatQuote, formatReactions, formatSafetyNumber, terminalSafe, TOMBSTONE } from "./format.js";
import { resolveMember } from "./resolve.js";
import { isMessageDraft, TYPING_IDLE_MS, TypingIndicators } from "./typing.js";
import { startOnline, waitOutboxSent } from "./wait.js";
import { disappeared } from "./inbox.js";
import { serveChatSocket } from "./chat-socket.js";
import type { FileKeyValueStore } from "../file-store/index.js";
import { retentionPhrase } from "../vault/room-history.js";

/**
 * Typing indicators are refreshed at most this often while keys are pressed: often enough that
 * others see a live "typing" state, rarely enough to add little traffic (they are ephemeral
 * room envelopes the relay fans out).
 */
export const TYPING_REFRESH_MS = 3_000;

/** The chat's help text. */
export const CHAT_HELP = [
  "Type a message and press Enter to send it (start it with // to send a leading /).",
  "/reply N TEXT     answer message #N",
  "/react N EMOJI    react to message #N (a new emoji replaces yours); /unreact N takes it back",
  "/edit N TEXT      replace the text of your message #N",
  "/delete N         delete your message #N for everyone",
  "/members          list the members",
  "/verify MEMBER    show the safety number with MEMBER and mark them verified",
  "/accept MEMBER    accept MEMBER's changed identity key",
  "/leave            leave the room and exit",
  "/help             show this help",
  "/quit             exit (also Ctrl-D)",
].join("\n");

/** Interactive chat in one room; resolves with the exit code when the user quits or leaves. */
export async function runChat(ctx: CliContext, line: CommandLine): Promise<number> {
  return withSession(ctx, line, async (session) => {
    const { client } = session;
    const room = currentRoom(session, line.args[0] ?? "");
    const roomId = room.roomId;
    const tty = ctx.stdout.isTTY === true && ctx.stdin.isTTY === true;
    const rl = createInterface({ input: ctx.stdin, output: ctx.stdout, terminal: tty, prompt: "> " });
    let known = new Map(client.members(roomId).map((m) => [m.address, m] as const));

    const typingNow = new TypingIndicators(() => prompt());
    const prompt = () => {
      const names = typingNow.names();
      rl.setPrompt(names.length === 0 ? "> " : `[${names.map(terminalSafe).join(", ")} typing] > `);
      rl.prompt(true);
    };
    const show = (text: string) => {
      if (tty) {
        clearLine(ctx.stdout, 0);
        cursorTo(ctx.stdout, 0);
        ctx.stdout.write(`${text}\n`);
        prompt();
      } else {
        ctx.stdout.write(`${text}\n`);
      }
    };
    const nameOf = (address: string) => known.get(address)?.displayName ?? "a member";

    // RM-61..RM-64: the messages this chat showed, numbered in order, with their current view.
    interface Shown {
      n: number;
      messageId: string;
      senderName: string;
      own: boolean;
      text: string;
      deleted: boolean;
    }
    const shown = new Map<string, Shown>();
    const byNumber: Shown[] = [];
    const number = (m: ClientEvents["message"]): Shown => {
      let s = shown.get(m.messageId);
      if (s === undefined) {
        s = { n: byNumber.length + 1, messageId: m.messageId, senderName: m.senderName, own: m.own, text: m.text, deleted: m.deleted === true };
        shown.set(m.messageId, s);
        byNumber.push(s);
      }
      return s;
    };
    const describe = (m: ClientEvents["message"], s: Shown) => {
      const quote = m.replyTo === undefined ? "" : `  ↪ ${(() => {
        const t = shown.get(m.replyTo);
        return t === undefined ? formatQuote(undefined) : `#${t.n} ${formatQuote(t)}`;
      })()}\n`;
      const line = formatChatLine(m.deleted === true ? { ...m, text: `(${TOMBSTONE})` } : m);
      const reactions = m.reactions === undefined || m.reactions.length === 0 ? "" : `  [${formatReactions(m.reactions)}]`;
      return `${quote}#${s.n} ${line}${m.edited === true ? " (edited)" : ""}${reactions}`;
    };
    // The client refuses what the protocol would (not the author, deleted, not one emoji) with
    // fixed sentences (room-engine.ts): shown as they are.
    const annotating = async (run: () => Promise<void>) => {
      try {
        await run();
      } catch (e) {
        if (e instanceof TypeError || e instanceof RangeError) show(formatNotice(e.message.replace(/^a /, "A ").replace(/bytes$/, "bytes.")));
        else throw e;
      }
    };
    const target = (arg: string): { s: Shown; rest: string } | undefined => {
      const m = /^#?(\d+)(?:\s+([\s\S]*))?$/.exec(arg);
      const s = m === null ? undefined : byNumber[Number(m[1]) - 1];
      if (s === undefined) {
        show(formatNotice("No such message number; messages are numbered as #N when shown."));
        return undefined;
      }
      return { s, rest: (m![2] ?? "").trim() };
    };

    let wasOnline = false;
    let lastShown: string = "online";
    let finish: (code: number) => void = () => undefined;
    const done = new Promise<number>((resolve) => (finish = resolve));
    const offs = [
      client.on("message", (m) => {
        if (m.roomId !== roomId) return;
        // RM-54: a backlog message older than the room's disappearing messages is not shown.
        if (disappeared(m, client.rooms().find((r) => r.roomId === roomId)?.retentionSeconds, Date.now())) return;
        const s = number(m);
        // Our own lines are not echoed (they are on screen as typed): only their number.
        if (m.own) return show(formatNotice(`#${s.n} sent.`));
        typingNow.set(m.sender, "", false);
        show(describe(m, s));
      }),
      client.on("message-updated", (u) => {
        if (u.roomId !== roomId) return;
        const s = shown.get(u.messageId);
        const ref = s === undefined ? "a message from before this chat" : `#${s.n}`;
        const who = u.own ? "You" : u.senderName;
        if (s !== undefined) {
          if (u.text !== undefined) s.text = u.text;
          if (u.deleted) (s.deleted = true), (s.text = "");
        }
        if (u.kind === "edit") show(formatNotice(`${who} edited ${ref}: ${u.text ?? ""} (edited)`));
        else if (u.kind === "delete") show(formatNotice(`${who} deleted ${ref}: ${TOMBSTONE}.`));
        else show(formatNotice(`${who} ${u.emoji === "" ? "took back their reaction to" : `reacted ${u.emoji ?? ""} to`} ${ref}: ${formatReactions(u.reactions)}`));
      }),
      client.on("settings-changed", (e) => {
        if (e.roomId !== roomId) return;
        show(formatNotice(`${e.own ? "You" : terminalSafe(e.senderName)} set disappearing messages to ${retentionPhrase(e.retentionSeconds)}.`));
      }),
      client.on("invite-changed", (e) => {
        if (e.roomId !== roomId) return;
        show(formatNotice('The room\'s invite link was reset; "securecomm invite ROOM" prints the new one.'));
      }),
      client.on("typing", (e) => {
        if (e.roomId !== roomId || !tty) return;
        typingNow.set(e.sender, nameOf(e.sender), e.typing);
        prompt();
      }),
      client.on("members-changed", (e) => {
        if (e.roomId !== roomId) return;
        const now = new Map(client.members(roomId).map((m) => [m.address, m] as const));
        for (const [a, m] of now) if (!known.has(a)) show(formatNotice(`${m.displayName} joined.`));
        for (const [a, m] of known) if (!now.has(a)) show(formatNotice(`${m.displayName} left.`));
        known = now;
      }),
      client.on("identity-changed", (e) => {
        if (e.roomId !== roomId) return;
        show(formatNotice(`${nameOf(e.member)}'s identity key CHANGED. Nothing is sent to them until you compare safety numbers (/verify) and /accept them.`));
      }),
      client.on("decryption-failed", (e) => {
        if (e.roomId !== undefined && e.roomId !== roomId) return;
        show(formatNotice(failureNotice(e.reason, e.sender === undefined ? undefined : nameOf(e.sender)).replace(" (reported by the client)", "")));
      }),
      client.on("connection", (e) => {
        // Before the first "online", startOnline reports failures; afterwards, show changes.
        if (!wasOnline) {
          wasOnline = e.state === "online";
          return;
        }
        if (e.state === lastShown) return;
        lastShown = e.state;
        show(formatNotice(e.state === "online" ? "Connected again." : "Connection lost; reconnecting…"));
      }),
      client.on("outbox", (e) => {
        // Sends go through the outbox (queued while the relay is away, resent by themselves);
        // only a message that can never be sent is worth a line, with its reason.
        if (e.roomId !== roomId || e.status !== "failed") return;
        show(formatNotice(`Not sent (${e.reason ?? "failed"}): ${terminalSafe(e.text)}`));
      }),
      client.on("room-closed", (e) => {
        if (e.roomId !== roomId) return;
        show(formatNotice("The room was closed for you (you left or were removed)."));
        finish(EXIT_OK);
      }),
    ];

    // Our own indicator reflects only message text being written (typing.ts): refreshed at
    // most every TYPING_REFRESH_MS, and "stopped" after TYPING_IDLE_MS of quiet, when the line
    // stops being a message (emptied, or turned into a /command) and when it is sent.
    let lastTyping = 0;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const stopTyping = () => {
      if (idle !== undefined) clearTimeout(idle);
      idle = undefined;
      if (lastTyping === 0) return;
      lastTyping = 0;
      client.setTyping(roomId, false).catch(() => undefined);
    };
    const onKeypress = () => {
      // readline updates its line on the same event; read it once that has happened.
      setImmediate(() => {
        if (!isMessageDraft(rl.line, pendingVerify !== undefined)) return stopTyping();
        if (idle !== undefined) clearTimeout(idle);
        idle = setTimeout(stopTyping, TYPING_IDLE_MS);
        const now = Date.now();
        if (now - lastTyping < TYPING_REFRESH_MS) return;
        lastTyping = now;
        client.setTyping(roomId, true).catch(() => undefined);
      });
    };
    if (tty) ctx.stdin.on("keypress", onKeypress);

    let pendingVerify: MemberView | undefined;
    const handle = async (input: string): Promise<void> => {
      const text = input.trim();
      if (pendingVerify !== undefined) {
        const member = pendingVerify;
        pendingVerify = undefined;
        if (/^y(es)?$/i.test(text)) {
          await client.markVerified(member.address);
          show(formatNotice(`${member.displayName} is now verified.`));
        } else {
          show(formatNotice("Not marked verified."));
        }
        return;
      }
      if (text.length === 0) return;
      if (text.startsWith("/") && !text.startsWith("//")) {
        stopTyping();
        const [cmd, ...rest] = text.split(/\s+/);
        const arg = rest.join(" ");
        switch (cmd) {
          case "/help":
            show(CHAT_HELP);
            return;
          case "/quit":
          case "/exit":
            finish(EXIT_OK);
            return;
          case "/members":
            show(formatMembers(client.members(roomId), false));
            return;
          case "/verify":
          case "/accept": {
            if (arg === "") {
              show(formatNotice(`Usage: ${cmd} MEMBER`));
              return;
            }
            const member = resolveMember(client.members(roomId), arg);
            if (member.isSelf) {
              show(formatNotice("That is you."));
              return;
            }
            if (cmd === "/accept") {
              await client.acceptIdentityChange(member.address);
              show(formatNotice(`Accepted ${member.displayName}'s current identity key. Verify it with /verify.`));
              return;
            }
            const { digits } = await client.safetyNumber(roomId, member.address);
            show(`Safety number with ${terminalSafe(member.displayName)}:\n${formatSafetyNumber(digits)}`);
            show(formatNotice(`Do these digits match what ${member.displayName} sees? Type "yes" to mark them verified.`));
            pendingVerify = member;
            return;
          }
          case "/reply":
          case "/edit": {
            const t = target(arg);
            if (t === undefined) return;
            if (t.rest === "") return show(formatNotice(`Usage: ${cmd} N TEXT`));
            if (cmd === "/reply") {
              assertJoined(session, room);
              await client.queueText(roomId, t.rest, { replyTo: t.s.messageId });
              return;
            }
            if (!t.s.own) return show(formatNotice("You can only edit your own messages."));
            await annotating(() => client.editMessage(roomId, t.s.messageId, t.rest));
            return;
          }
          case "/react":
          case "/unreact": {
            const t = target(arg);
            if (t === undefined) return;
            if (cmd === "/react" && t.rest === "") return show(formatNotice("Usage: /react N EMOJI"));
            await annotating(() => client.react(roomId, t.s.messageId, cmd === "/react" ? t.rest : undefined));
            return;
          }
          case "/delete": {
            const t = target(arg);
            if (t === undefined) return;
            if (!t.s.own) return show(formatNotice("You can only delete your own messages."));
            await annotating(() => client.deleteMessage(roomId, t.s.messageId));
            return;
          }
          case "/leave":
            await client.leaveRoom(roomId);
            show(formatNotice("You left the room."));
            finish(EXIT_OK);
            return;
          default: {
            const shown = echoableWord(cmd?.slice(1) ?? "");
            show(formatNotice(`Unknown command${shown === undefined ? "" : ` /${shown.slice(1, -1)}`}; /help lists them.`));
            return;
          }
        }
      }
      assertJoined(session, room);
      if (idle !== undefined) clearTimeout(idle);
      idle = undefined;
      lastTyping = 0; // the message itself ends the indicator on every receiver
      // Queued in the outbox (kept encrypted in the store) and sent in order when the relay
      // takes it; typing goes on meanwhile.
      await client.queueText(roomId, text.startsWith("//") ? text.slice(1) : text);
    };

    // Lines are handled one at a time, in order, so messages are sent in the order typed, and
    // only once the client is online and caught up (lines piped in early wait for that).
    let markReady: () => void = () => undefined;
    let queue = new Promise<void>((resolve) => (markReady = resolve));
    rl.on("line", (input) => {
      queue = queue.then(() =>
        handle(input).catch((e: unknown) => show(formatNotice(toCliError(e).message))),
      );
      if (tty) prompt();
    });
    rl.on("close", () => {
      // End of input: let what was typed leave the outbox first (bounded; what is left is
      // kept in the store and sent the next time the client runs).
      void queue
        .then(() => waitOutboxSent(client, roomId))
        .then((left) => {
          if (left > 0) show(formatNotice(`${left} message(s) still queued; they are sent the next time you run chat or send.`));
          finish(EXIT_OK);
        });
    });
    rl.on("SIGINT", () => finish(EXIT_OK));
    const offInterrupt = ctx.onInterrupt?.(() => finish(EXIT_OK));

    // Issue 12 item 9: other commands of this home ask us while we hold its lock.
    const store = session.store as Partial<FileKeyValueStore>;
    const socket = typeof store.accessProof === "function" ? await serveChatSocket(line.home, store as FileKeyValueStore, client) : undefined;
    try {
      await startOnline(ctx, client);
      known = new Map(client.members(roomId).map((m) => [m.address, m] as const));
      show(formatNotice(`Chatting in "${room.name}" with ${Math.max(0, known.size - 1)} other member(s). /help lists commands.`));
      markReady();
      if (tty) prompt();
      const code = await done;
      await queue;
      return code;
    } finally {
      await socket?.close().catch(() => undefined);
      offInterrupt?.();
      for (const off of offs) off();
      if (tty) ctx.stdin.removeListener("keypress", onKeypress);
      if (idle !== undefined) clearTimeout(idle);
      typingNow.clear();
      rl.close();
    }
  });
}
