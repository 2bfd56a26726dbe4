/**
 * Typed Connect clients for every relay service, with bearer authentication.
 *
 * Owns: `createRelayClients` (one Connect transport over fetch, usable in Node 20 and
 * browsers, binary protobuf codec) and the `authorization: Bearer <base64url(token)>` header
 * (spec API-03), added when a token is known, and a fetch whose streams stop promptly when
 * cancelled (abortable-fetch.ts). Does not own: obtaining tokens
 * (client/account), the Subscribe loop (subscription.ts).
 */

import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AccountService } from "../../gen/securecomm/relay/v1/account_pb.js";
import { BlobService } from "../../gen/securecomm/relay/v1/blobs_pb.js";
import { KeyService } from "../../gen/securecomm/relay/v1/keys_pb.js";
import { MessageService } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../../gen/securecomm/relay/v1/relay_info_pb.js";
import { RoomService } from "../../gen/securecomm/relay/v1/rooms_pb.js";
import { abortableFetch } from "./abortable-fetch.js";
import { base64url } from "./base64url.js";

/** Every relay service client (spec/10-relay-api.md). */
export interface RelayClients {
  account: Client<typeof AccountService>;
  keys: Client<typeof KeyService>;
  messages: Client<typeof MessageService>;
  rooms: Client<typeof RoomService>;
  blobs: Client<typeof BlobService>;
  info: Client<typeof RelayInfoService>;
}

/** Options of `createRelayClients`. */
export interface RelayClientOptions {
  /** Relay base URL, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  /** The current bearer token, if any (read on every call). */
  token: () => Uint8Array | undefined;
  fetch?: typeof globalThis.fetch;
}

/**
 * Methods safe to send twice (no side effect, or idempotent per their proto options and
 * spec/10): retried (up to 5 attempts) when the connection fails before any response, which happens when a
 * pooled keep-alive connection is closed by the server just as it is reused.
 */
export const RETRYABLE_METHODS: ReadonlySet<string> = new Set([
  "GetRelayInfo",
  "CreateChallenge",
  "GetPreKeyCounts",
  "GetSenderCertificate",
  "SetDeliveryToken",
  "UploadPreKeys",
  "AckMessages",
  "GetRoomHistory",
  "GetBlobUploadStatus",
  // Not idempotent (it hands out a one-time prekey) but harmless to repeat.
  "FetchPreKeyBundle",
  "RotateRoomAccessKey",
  "DeleteAccount",
]);

/** Attempts of a retryable call: a pool can hold several sockets the server just closed. */
const MAX_ATTEMPTS = 5;

function isConnectionFailure(e: unknown): boolean {
  return e instanceof ConnectError && (e.code === Code.Unknown || e.code === Code.Unavailable) && e.cause instanceof TypeError;
}

/** Creates the relay clients over one Connect transport (API-01, API-03). */
export function createRelayClients(options: RelayClientOptions): RelayClients {
  const auth: Interceptor = (next) => async (req) => {
    const token = options.token();
    if (token !== undefined && !req.header.has("authorization")) {
      req.header.set("authorization", `Bearer ${base64url(token)}`);
    }
    if (req.stream || !RETRYABLE_METHODS.has(req.method.name)) return next(req);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (e) {
        if (!isConnectionFailure(e) || req.signal.aborted || attempt >= MAX_ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, 25 * attempt));
      }
    }
  };
  const transport = createConnectTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: true,
    interceptors: [auth],
    // Streams must stop when cancelled, also after garbage collection (abortable-fetch.ts).
    fetch: abortableFetch(options.fetch),
  });
  return {
    account: createClient(AccountService, transport),
    keys: createClient(KeyService, transport),
    messages: createClient(MessageService, transport),
    rooms: createClient(RoomService, transport),
    blobs: createClient(BlobService, transport),
    info: createClient(RelayInfoService, transport),
  };
}
