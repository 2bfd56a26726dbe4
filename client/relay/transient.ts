/**
 * Which relay failures a retry can fix.
 *
 * Owns: `isTransientRelayError`, shared by every client-side retry loop (the room engine's job
 * outbox in client/room/room-outbox.ts and the post outbox in client/app/post-outbox.ts) so
 * they agree on what "try again later" means. Does not own: the delays (backoff.ts) or what a
 * permanent failure means to each caller.
 */

import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Connect codes of failures that are the relay's or the network's passing state: unreachable,
 * restarting, overloaded or rate-limited (spec/10-relay-api.md error model). Everything else
 * (`invalid_argument`, `permission_denied`, `not_found`, …) says something about the request.
 */
export const TRANSIENT_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Canceled,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
]);

/** True when `e` is a relay failure worth retrying later. */
export function isTransientRelayError(e: unknown): boolean {
  return e instanceof ConnectError && TRANSIENT_CODES.has(e.code);
}
