/**
 * Mapping every failure the CLI can meet to an exit code and a fixed sentence.
 *
 * Owns: `toCliError`: `CliError` passes through; file-store errors, protocol errors, relay
 * (Connect) errors and network failures each map to their exit code with a sentence that
 * names no key, token, path or raw error text. Anything unforeseen becomes EXIT_FAILURE with
 * only the error's class name.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { PostFailedError } from "../app/securecomm-client.js";
import { isProtocolError } from "../errors.js";
import { isFileStoreError } from "../file-store/errors.js";
import {
  CliError,
  EXIT_BAD_PASSPHRASE,
  EXIT_FAILURE,
  EXIT_NO_IDENTITY,
  EXIT_REFUSED,
  EXIT_RELAY_REFUSED,
  EXIT_RELAY_UNREACHABLE,
  EXIT_STORE,
} from "./exit-codes.js";

/** Node error codes that mean "could not reach the relay". */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

function causes(e: unknown): unknown[] {
  const out: unknown[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 8 && cur !== undefined && cur !== null; i++) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

function relayUnreachable(): CliError {
  return new CliError(EXIT_RELAY_UNREACHABLE, "Cannot reach the relay. Check --relay and that the relay is running.");
}

/** The CliError for a relay that answered with Connect `code`. */
export function fromConnectCode(code: Code): CliError {
  switch (code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return relayUnreachable();
    case Code.PermissionDenied:
      return new CliError(EXIT_RELAY_REFUSED, "The relay refused: no permission (an expired invite, or you are no longer in the room).");
    case Code.Unauthenticated:
      return new CliError(EXIT_RELAY_REFUSED, "The relay refused: this identity is not registered or its session expired.");
    case Code.ResourceExhausted:
      return new CliError(EXIT_RELAY_REFUSED, "The relay refused: a limit was reached; try again later.");
    case Code.NotFound:
      return new CliError(EXIT_RELAY_REFUSED, "The relay does not know this room or account.");
    default:
      return new CliError(EXIT_RELAY_REFUSED, `The relay refused the request (${Code[code] ?? "unknown"}).`);
  }
}

/**
 * The CliError for the client's first connection failure, described by client/relay's fixed
 * strings ("connection failed", "relay error: <Connect code name>").
 */
export function fromConnectionError(description: string): CliError {
  const m = /^relay error: (\w+)$/.exec(description);
  const code = m?.[1] === undefined ? undefined : (Code as unknown as Record<string, Code | undefined>)[m[1]];
  if (code === undefined || code === Code.Unknown) return relayUnreachable();
  return fromConnectCode(code);
}

/** Maps any thrown value to a `CliError` (see the module header). */
export function toCliError(e: unknown): CliError {
  if (e instanceof CliError) return e;
  const chain = causes(e);
  for (const c of chain) {
    if (isFileStoreError(c)) {
      switch (c.code) {
        case "wrong_passphrase":
          return new CliError(EXIT_BAD_PASSPHRASE, "Wrong passphrase.");
        case "not_found":
          return new CliError(EXIT_NO_IDENTITY, 'No identity here yet. Run "securecomm init --name NAME" first.');
        case "locked":
          return new CliError(
            EXIT_STORE,
            "Another securecomm process is using this home directory (one process at a time, e.g. an open chat or listen). " +
              "While a chat is open, rooms, members, safety-number, invite and retention still work (they ask the chat); " +
              "to send, type in the chat; for anything else quit it (/quit) and run this again.",
          );
        case "corrupt":
          return new CliError(EXIT_STORE, "The home directory's files are damaged or were altered; refusing to use them.");
        case "already_exists":
          return new CliError(EXIT_STORE, "A store already exists in this home directory.");
        case "closed":
          return new CliError(EXIT_FAILURE, "Unexpected error: the store was closed too early.");
      }
    }
  }
  // A network failure first: connect-es wraps it (ConnectError "unknown" ← TypeError "fetch
  // failed" ← the socket error), so the code of the outer error says nothing.
  for (const c of chain) {
    const code = (c as { code?: unknown } | null)?.code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return relayUnreachable();
    if (c instanceof TypeError && c.message === "fetch failed") return relayUnreachable();
  }
  for (const c of chain) {
    if (c instanceof ConnectError) return fromConnectCode(c.code);
  }
  for (const c of chain) {
    if (isProtocolError(c, "untrusted_identity")) {
      return new CliError(
        EXIT_REFUSED,
        "A member's identity key changed; nothing is sent to them until you accept it (chat: /accept MEMBER) after comparing safety numbers.",
      );
    }
    // ProtocolError messages are fixed sentences without identifiers (client/errors.ts).
    if (isProtocolError(c)) return new CliError(EXIT_REFUSED, `Refused: ${c.message}`);
  }
  // The outbox gave up on a message for a reason a retry cannot fix (issue 16).
  if (e instanceof PostFailedError) {
    const why =
      e.reason === "not-a-member"
        ? "you are no longer a member of the room"
        : e.reason === "room-not-found"
          ? "the room no longer exists"
          : e.reason === "discarded"
            ? "it was discarded"
            : "the relay refused it";
    return new CliError(EXIT_RELAY_REFUSED, `Not sent: ${why}.`);
  }
  const kind = e instanceof Error ? e.name : typeof e;
  return new CliError(EXIT_FAILURE, `Unexpected error (${kind}).`);
}
