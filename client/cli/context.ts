/**
 * What a CLI run works with: its streams, environment, and how it opens stores and clients.
 *
 * Owns: `CliContext` (injected, so tests drive `main` in-process with captured output and a
 * memory store) and `openSession` / `createSession`, which turn a command line into an open
 * file store and `SecureCommClient`, and close both again. Does not own: commands.
 */

import type { KeyValueStore } from "../store/kv-store.js";
import { openSecureCommClient, type SecureCommClient, type SecureCommClientOptions } from "../app/securecomm-client.js";
import { createFileStore, fileStoreExists, isFileStoreError, openFileStore, removeFileStore } from "../file-store/index.js";
import { askFailure, openRemoteClient } from "./chat-socket.js";
import type { CommandLine } from "./args.js";
import { CliError, EXIT_ALREADY_INITIALIZED, EXIT_BAD_PASSPHRASE, EXIT_NO_IDENTITY } from "./exit-codes.js";
import { readPassphrase, type PromptStreams } from "./passphrase.js";

/** Streams and environment of one CLI run. */
export interface CliContext extends PromptStreams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's home directory, for the default `--home`. */
  readonly userHome: string;
  /** Opens the client (default `openSecureCommClient`); tests may wrap it. */
  readonly openClient?: (options: SecureCommClientOptions) => Promise<SecureCommClient>;
  /** Registers a handler for Ctrl-C / SIGTERM during long-running commands; returns an unregister function. */
  readonly onInterrupt?: (handler: () => void) => () => void;
}

/** An open home directory: its store and a client over it. */
export interface Session {
  readonly client: SecureCommClient;
  readonly store: KeyValueStore;
  /**
   * True when an open chat holds the home directory and this session asks it (read-only
   * commands only, chat-socket.ts): there is no store and no relay connection of our own.
   */
  readonly remote?: boolean;
  /** Stops the client and closes client and store (idempotent; never throws). */
  close(): Promise<void>;
}

function sessionOf(client: SecureCommClient, store: KeyValueStore): Session {
  let closing: Promise<void> | undefined;
  return {
    client,
    store,
    close: () =>
      (closing ??= (async () => {
        await client.stop().catch(() => undefined);
        await client.close().catch(() => undefined);
        await store.close?.().catch(() => undefined);
      })()),
  };
}

async function openClient(ctx: CliContext, line: CommandLine, store: KeyValueStore): Promise<SecureCommClient> {
  const open = ctx.openClient ?? openSecureCommClient;
  return open({ relayUrl: line.relayUrl, store });
}

/**
 * Opens the home directory of `line` (asking for the passphrase) and a client over it. No
 * store, or a store without an identity, is `CliError(EXIT_NO_IDENTITY)`.
 */
export async function openSession(ctx: CliContext, line: CommandLine): Promise<Session> {
  if (!(await fileStoreExists(line.home))) {
    throw new CliError(EXIT_NO_IDENTITY, 'No identity here yet. Run "securecomm init --name NAME" first.');
  }
  const passphrase = await readPassphrase(ctx.env, ctx, false);
  let store: Awaited<ReturnType<typeof openFileStore>>;
  try {
    store = await openFileStore(line.home, passphrase);
  } catch (e) {
    // Issue 12 item 9: while chat holds the home, read-only commands ask it instead.
    if (isFileStoreError(e, "locked") && isReadOnly(line)) return openRemoteSession(line, passphrase, e);
    throw e;
  }
  let client: SecureCommClient;
  try {
    client = await openClient(ctx, line, store);
  } catch (e) {
    await store.close();
    throw e;
  }
  const session = sessionOf(client, store);
  if (!client.hasIdentity) {
    await session.close();
    throw new CliError(EXIT_NO_IDENTITY, 'No identity here yet. Run "securecomm init --name NAME" first.');
  }
  return session;
}

/** Commands that only read, and so may ask an open chat (issue 12 item 9). */
export function isReadOnly(line: CommandLine): boolean {
  switch (line.command) {
    case "rooms":
    case "members":
    case "safety-number":
      return true;
    case "invite":
      return line.reset !== true;
    case "retention":
      return line.retentionSeconds === undefined;
    default:
      return false;
  }
}

/**
 * A session that asks the open chat of `line.home` (chat-socket.ts). If no chat answers (an
 * older chat, a home path too long for a socket), the original `locked` error stands; a wrong
 * passphrase is reported as such.
 */
async function openRemoteSession(line: CommandLine, passphrase: string, locked: unknown): Promise<Session> {
  let client: SecureCommClient;
  try {
    client = await openRemoteClient(line.home, passphrase, line.relayUrl);
  } catch (e) {
    const why = askFailure(e);
    if (why === "wrong_passphrase" || isFileStoreError(e, "wrong_passphrase")) throw new CliError(EXIT_BAD_PASSPHRASE, "Wrong passphrase.");
    throw locked;
  }
  return { client, store: undefined as unknown as KeyValueStore, remote: true, close: async () => undefined };
}

/**
 * `init`: creates the home directory's store and identity and registers it, all or nothing:
 * if anything fails, the store this run created is removed again so `init` can be retried.
 * A home that already has a store is `CliError(EXIT_ALREADY_INITIALIZED)`.
 */
export async function initSession(ctx: CliContext, line: CommandLine, displayName: string): Promise<Session> {
  if (await fileStoreExists(line.home)) {
    throw new CliError(EXIT_ALREADY_INITIALIZED, "This home directory already has an identity. Use another --home for a second one.");
  }
  const passphrase = await readPassphrase(ctx.env, ctx, true);
  const store = await createFileStore(line.home, passphrase);
  let client: SecureCommClient | undefined;
  try {
    client = await openClient(ctx, line, store);
    await client.ensureIdentity(displayName);
    return sessionOf(client, store);
  } catch (e) {
    await client?.close().catch(() => undefined);
    await store.close();
    await removeFileStore(line.home);
    throw e;
  }
}
