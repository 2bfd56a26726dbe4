/**
 * The open chat answers read-only questions from other `securecomm` processes of the same home
 * directory (issue 12 item 9): while `chat` holds the home's lock, `rooms`, `members`,
 * `safety-number`, `invite` (without --reset) and `retention` (without --set) ask the chat
 * over a Unix socket in the home directory instead of failing.
 *
 * Owns: the socket (`<home>/chat.sock`, mode 0600 in the 0700 home), its one-question
 * protocol (newline-delimited JSON: the server sends a random nonce; the asker answers with a
 * proof that it knows the home's passphrase, file-store `accessProof`, and its question; the
 * server checks the proof in constant time and answers once), the questions and the answers,
 * and `openRemoteSession`, which gives a command a read-only `SecureCommClient` stand-in over
 * one snapshot. Does not own: the commands, the chat loop, the store.
 *
 * Nothing that changes state is ever answered: the stand-in throws on every other method.
 */
import { chmod, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { MemberView, RoomSummary, SecureCommClient } from "../app/securecomm-client.js";
import { constantTimeEqual, randomBytes } from "../crypto/bytes.js";
import type { FileKeyValueStore } from "../file-store/index.js";
import { proveStoreAccess } from "../file-store/index.js";

/** The socket's file name in the home directory. */
export const CHAT_SOCKET_FILE = "chat.sock";
/** Challenge length: 32 random bytes, fresh per connection. */
export const CHAT_SOCKET_NONCE_BYTES = 32;
/** Longest line either side sends: a snapshot of many rooms and members stays far below. */
export const MAX_CHAT_SOCKET_LINE_BYTES = 4 * 1024 * 1024;
/** An asker that has not sent its question within this time is disconnected. */
export const CHAT_SOCKET_IDLE_MS = 30_000;
/** Unix socket paths are limited (108 bytes on Linux); a longer home gets no socket. */
export const MAX_SOCKET_PATH_BYTES = 100;

/** A question to the open chat. */
export type ChatQuestion = { kind: "snapshot"; origin: string } | { kind: "safety-number"; roomId: string; member: string };

/** Everything the read-only commands show, as of one moment. */
export interface ChatSnapshot {
  rooms: RoomSummary[];
  members: Record<string, MemberView[]>;
  /** The invite link of each room that has one (RM-50), under the asker's origin. */
  links: Record<string, string>;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: unknown) => (typeof s === "string" ? new Uint8Array(Buffer.from(s, "base64")) : new Uint8Array(0));

/** Reads newline-delimited JSON from `socket`, one value per call of `next`. */
function lines(socket: Socket): { next(): Promise<unknown> } {
  let buffer = "";
  const waiting: Array<(v: unknown) => void> = [];
  const ready: unknown[] = [];
  let ended = false;
  const settle = () => {
    while (waiting.length > 0 && (ready.length > 0 || ended)) waiting.shift()!(ready.length > 0 ? ready.shift() : undefined);
  };
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    if (buffer.length > MAX_CHAT_SOCKET_LINE_BYTES) {
      socket.destroy();
      return;
    }
    for (let at = buffer.indexOf("\n"); at >= 0; at = buffer.indexOf("\n")) {
      const line = buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
      try {
        ready.push(JSON.parse(line));
      } catch {
        ready.push(undefined);
      }
    }
    settle();
  });
  const end = () => {
    ended = true;
    settle();
  };
  socket.on("end", end);
  socket.on("close", end);
  socket.on("error", end);
  return { next: () => new Promise((resolve) => { waiting.push(resolve); settle(); }) };
}

/** A running socket; `close()` stops it and removes the file. */
export interface ChatSocket {
  close(): Promise<void>;
}

/**
 * Serves read-only questions for the open chat of `home` (whose store is `store`). Resolves
 * with undefined when the socket cannot be made (a home path too long for a socket): the other
 * commands then say what to do instead.
 */
export async function serveChatSocket(home: string, store: Pick<FileKeyValueStore, "accessProof">, client: SecureCommClient): Promise<ChatSocket | undefined> {
  const path = join(home, CHAT_SOCKET_FILE);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) return undefined;
  const answer = async (q: ChatQuestion): Promise<unknown> => {
    if (q.kind === "snapshot") {
      const rooms = client.rooms();
      const members: Record<string, MemberView[]> = {};
      const links: Record<string, string> = {};
      for (const r of rooms) {
        members[r.roomId] = client.members(r.roomId);
        if (r.hasInviteLink === true && !r.departed) links[r.roomId] = client.inviteLink(r.roomId, q.origin);
      }
      return { rooms, members, links } satisfies ChatSnapshot;
    }
    return { digits: (await client.safetyNumber(q.roomId, q.member)).digits };
  };
  const server: Server = createServer((socket) => {
    socket.setTimeout(CHAT_SOCKET_IDLE_MS, () => socket.destroy());
    const nonce = randomBytes(CHAT_SOCKET_NONCE_BYTES);
    const input = lines(socket);
    socket.write(`${JSON.stringify({ nonce: b64(nonce) })}\n`);
    void (async () => {
      const msg = (await input.next()) as { proof?: unknown; question?: ChatQuestion } | undefined;
      const proof = unb64(msg?.proof);
      const expected = store.accessProof(nonce);
      if (proof.length !== expected.length || !constantTimeEqual(proof, expected)) {
        socket.end(`${JSON.stringify({ ok: false, error: "wrong_passphrase" })}\n`);
        return;
      }
      const q = msg?.question;
      const valid =
        (q?.kind === "snapshot" && typeof q.origin === "string") ||
        (q?.kind === "safety-number" && typeof q.roomId === "string" && typeof q.member === "string");
      if (!valid) {
        socket.end(`${JSON.stringify({ ok: false, error: "bad_question" })}\n`);
        return;
      }
      try {
        socket.end(`${JSON.stringify({ ok: true, result: await answer(q!) })}\n`);
      } catch {
        socket.end(`${JSON.stringify({ ok: false, error: "failed" })}\n`);
      }
    })().catch(() => socket.destroy());
  });
  // We hold the home's lock, so a socket file left here is a crashed chat's: remove it.
  await unlink(path).catch(() => undefined);
  const previous = process.umask(0o177); // created 0600 from the start
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
  } catch {
    return undefined;
  } finally {
    process.umask(previous);
  }
  await chmod(path, 0o600);
  server.unref();
  return {
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(path).catch(() => undefined);
    },
  };
}

/** Why asking the open chat failed. */
export type AskFailure = "no_chat" | "wrong_passphrase" | "failed";

/** Asks the open chat of `home` one question; throws `{ askFailure }` when it cannot. */
export async function askChat(home: string, passphrase: string, question: ChatQuestion): Promise<unknown> {
  const fail = (askFailure: AskFailure) => Object.assign(new Error("chat socket"), { askFailure });
  const socket = createConnection(join(home, CHAT_SOCKET_FILE));
  socket.setTimeout(CHAT_SOCKET_IDLE_MS, () => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
  } catch {
    throw fail("no_chat");
  }
  try {
    const input = lines(socket);
    const hello = (await input.next()) as { nonce?: unknown } | undefined;
    const nonce = unb64(hello?.nonce);
    if (nonce.length !== CHAT_SOCKET_NONCE_BYTES) throw fail("failed");
    const proof = await proveStoreAccess(home, passphrase, nonce);
    socket.write(`${JSON.stringify({ proof: b64(proof), question })}\n`);
    const reply = (await input.next()) as { ok?: boolean; result?: unknown; error?: string } | undefined;
    if (reply?.ok === true) return reply.result;
    throw fail(reply?.error === "wrong_passphrase" ? "wrong_passphrase" : "failed");
  } finally {
    socket.destroy();
  }
}

/** True when `e` came from {@link askChat}; its reason. */
export function askFailure(e: unknown): AskFailure | undefined {
  return typeof e === "object" && e !== null && "askFailure" in e ? (e as { askFailure: AskFailure }).askFailure : undefined;
}

/**
 * A read-only stand-in for the client of an open chat: answers from one snapshot, asks the
 * chat for safety numbers, and refuses everything that would change anything.
 */
export async function openRemoteClient(home: string, passphrase: string, origin: string): Promise<SecureCommClient> {
  const snap = (await askChat(home, passphrase, { kind: "snapshot", origin })) as ChatSnapshot;
  const refuse = () => {
    throw new TypeError("read-only: the home directory is in use by an open chat");
  };
  const standIn: Partial<SecureCommClient> = {
    hasIdentity: true,
    rooms: () => snap.rooms,
    members: (roomId: string) => snap.members[roomId] ?? [],
    inviteLink: (roomId: string) => {
      const link = snap.links[roomId];
      if (link === undefined) throw new TypeError("This room has no invite link yet.");
      return link;
    },
    safetyNumber: async (roomId: string, member: string) => {
      const { digits } = (await askChat(home, passphrase, { kind: "safety-number", roomId, member })) as { digits: string };
      return { digits, scannable: new Uint8Array(0) };
    },
    on: () => () => undefined,
    start: async () => refuse(),
    stop: async () => undefined,
    close: async () => undefined,
  };
  return new Proxy(standIn as SecureCommClient, {
    get(target, prop, receiver) {
      if (prop in target) return Reflect.get(target, prop, receiver);
      if (prop === "then") return undefined;
      return refuse;
    },
  });
}
