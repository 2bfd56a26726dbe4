/**
 * Connect handler options for the service that carries the fan-out (MessageService, whose
 * Subscribe streams every live event; spec/10-relay-api.md API-11..API-13).
 *
 * Owns: the per-service wire options of the fan-out path. Does not own the server-wide
 * options (relay/server.ts).
 */
import type { UniversalHandlerOptions } from "@connectrpc/connect/protocol";

/**
 * Responses of MessageService are never compressed. What they carry is sealed-sender and
 * sender-key ciphertext, which gzip cannot shrink; yet Connect compressed every coalesced
 * batch over 1 KiB separately for each subscriber that accepts gzip (the default of Connect
 * clients), and zlib was the largest single cost of the 200 posts/s × 100 subscribers profile
 * (relay/hub/PERFORMANCE.md). Compressed requests are still accepted.
 */
export const FANOUT_HANDLER_OPTIONS: Partial<UniversalHandlerOptions> = {
  compressMinBytes: Number.MAX_SAFE_INTEGER,
};
