/**
 * Waiting on a client: until it is online, until an event matches, with deadlines and Ctrl-C.
 *
 * Owns: the CLI's deadlines (each a named constant) and `waitFor`, a promise over client events
 * that also settles on a deadline or an interrupt. Does not own: the client's reconnect policy
 * (client/relay backs off and retries by itself; the CLI only decides how long to wait).
 */

import type { ClientEvents, SecureCommClient } from "../app/securecomm-client.js";
import type { CliContext } from "./context.js";
import { fromConnectionError } from "./errors.js";
import { CliError, EXIT_INTERRUPTED, EXIT_RELAY_UNREACHABLE, EXIT_TIMEOUT } from "./exit-codes.js";

/**
 * How long a command waits for the relay connection before giving up with exit code 5: long
 * enough for a few of the client's reconnect attempts, short enough that a script notices a
 * relay that is down.
 */
export const CONNECT_TIMEOUT_MS = 15_000;
/**
 * How long `join` waits for a member to answer the join (roster and sender keys) when no
 * `--timeout` is given; a member must be online to answer, so a script can still go on after it.
 */
export const JOIN_ANSWER_TIMEOUT_MS = 30_000;

/**
 * How long `remove` waits for the relay's ordered copy of its Remove (the admin applies its own
 * removal then, spec RM-12): one round trip on a live connection; generous for a busy relay.
 */
export const REMOVE_CONFIRM_TIMEOUT_MS = 15_000;

/** How a wait ended: the value it waited for, or a reason it stopped. */
export type WaitOutcome<T> = { kind: "done"; value: T } | { kind: "timeout" } | { kind: "interrupted" };

/**
 * Waits until `check` (run now and after every client event of `events`) returns a value,
 * `timeoutMs` passes, or the user interrupts. Listeners are removed whatever happens.
 */
export function waitFor<T>(
  ctx: CliContext,
  client: SecureCommClient,
  events: ReadonlyArray<keyof ClientEvents>,
  check: () => T | undefined,
  timeoutMs: number | undefined,
): Promise<WaitOutcome<T>> {
  return new Promise((resolve) => {
    const cleanups: Array<() => void> = [];
    let settled = false;
    const settle = (outcome: WaitOutcome<T>) => {
      if (settled) return;
      settled = true;
      for (const c of cleanups) c();
      resolve(outcome);
    };
    const poll = () => {
      if (settled) return;
      const v = check();
      if (v !== undefined) settle({ kind: "done", value: v });
    };
    for (const e of events) cleanups.push(client.on(e, poll));
    if (timeoutMs !== undefined) {
      const timer = setTimeout(() => settle({ kind: "timeout" }), timeoutMs);
      cleanups.push(() => clearTimeout(timer));
    }
    if (ctx.onInterrupt !== undefined) cleanups.push(ctx.onInterrupt(() => settle({ kind: "interrupted" })));
    poll();
  });
}

/** Throws the CliError for a wait that ended without its value. */
export function failWait(outcome: { kind: "timeout" | "interrupted" }, timeoutMessage: string, timeoutCode = EXIT_TIMEOUT): never {
  if (outcome.kind === "interrupted") throw new CliError(EXIT_INTERRUPTED, "Interrupted.");
  throw new CliError(timeoutCode, timeoutMessage);
}

/**
 * Starts the client's Subscribe loop and waits until it is online, i.e. the relay delivered
 * the backlog and the client processed it (client/relay emits "online" at CaughtUp). The first
 * connection failure ends the wait (exit code 5, or 12 when the relay refused): a command should
 * report a relay that is down, not retry silently; after that, the client reconnects by itself.
 */
export async function startOnline(ctx: CliContext, client: SecureCommClient): Promise<void> {
  let failure: string | undefined;
  const off = client.on("connection", (e) => {
    if (e.error !== undefined && failure === undefined) failure = e.error;
  });
  try {
    const pending = waitFor(
      ctx,
      client,
      ["connection"],
      () => (client.connection === "online" ? "online" : failure !== undefined ? "failed" : undefined),
      CONNECT_TIMEOUT_MS,
    );
    await client.start();
    const outcome = await pending;
    if (outcome.kind === "done" && outcome.value === "failed") throw fromConnectionError(failure ?? "");
    if (outcome.kind !== "done") {
      failWait(outcome, "Cannot reach the relay. Check --relay and that the relay is running.", EXIT_RELAY_UNREACHABLE);
    }
  } finally {
    off();
  }
}

/**
 * How long `send` waits, once online, for the client to settle (sender keys of every member
 * known, outbox empty, no envelope waiting for a key) before sending anyway; a member who
 * never answered must not block sending forever.
 */
export const SETTLE_TIMEOUT_MS = 10_000;
/** Poll interval for settling: the runtime has no event for it. */
const SETTLE_POLL_MS = 100;

/**
 * Waits until the client reports itself settled (the runtime's `settled()` diagnostic, when
 * present), at most SETTLE_TIMEOUT_MS.
 */
export async function waitSettled(client: SecureCommClient): Promise<void> {
  const settled = (client as { settled?: () => boolean }).settled;
  if (typeof settled !== "function") return;
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (!settled.call(client) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}

/** How long `chat` waits at the end of its input for queued messages to be sent. */
export const OUTBOX_DRAIN_TIMEOUT_MS = 30_000;

/**
 * Waits until nothing of `roomId` is queued or being sent in the outbox (failed entries do
 * not count), at most `limitMs`; resolves with how many are still waiting. What still waits
 * stays in the store and goes out the next time the client runs (issue 16).
 */
export async function waitOutboxSent(client: SecureCommClient, roomId: string, limitMs = OUTBOX_DRAIN_TIMEOUT_MS): Promise<number> {
  const waiting = () => client.outbox(roomId).filter((i) => i.status === "queued" || i.status === "sending").length;
  if (waiting() === 0) return 0;
  return new Promise<number>((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(waiting());
    }, limitMs);
    const off = client.on("outbox", () => {
      if (waiting() > 0) return;
      clearTimeout(timer);
      off();
      resolve(0);
    });
  });
}

/** How long `send` waits for the relay to store its message before giving up (exit 5). */
export const SEND_TIMEOUT_MS = 30_000;

/** Where one outbox message ended up within a wait. */
export type SendOutcome = { kind: "sent"; seq: number } | { kind: "failed"; reason: string } | { kind: "timeout" };

/**
 * Waits until the outbox message `messageId` is sent or failed, at most `limitMs`. A message
 * still queued at the end stays in the store and goes out the next time the client runs.
 */
export async function waitSent(client: SecureCommClient, messageId: string, limitMs = SEND_TIMEOUT_MS): Promise<SendOutcome> {
  return new Promise<SendOutcome>((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve({ kind: "timeout" });
    }, limitMs);
    const off = client.on("outbox", (i) => {
      if (i.messageId !== messageId || (i.status !== "sent" && i.status !== "failed")) return;
      clearTimeout(timer);
      off();
      resolve(i.status === "sent" ? { kind: "sent", seq: i.seq ?? 0 } : { kind: "failed", reason: i.reason ?? "rejected" });
    });
  });
}
