/**
 * Bearer-token authentication and the relay's secret-comparison helpers.
 *
 * Owns: the `authorization: Bearer <base64url(token)>` header format (spec/10-relay-api.md
 * API-03), token generation (32 CSPRNG bytes) and hashing (only SHA-256(token) is stored),
 * and constant-time comparison of hashes. Does not own the token table (RelayStore) or which
 * RPCs need a token (the services).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { relayError } from "./errors.js";
import type { RelayStore } from "./store/relay-store.js";

/** Length of bearer tokens, delivery tokens, challenges and access keys: 256 bits. */
export const SECRET_BYTES = 32;

/** Longest accepted authorization header: "Bearer " plus base64url of 32 bytes (43), with slack. */
const MAX_AUTH_HEADER_LENGTH = 128;

const BEARER = /^Bearer ([A-Za-z0-9_-]{43})=?$/;

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** Constant-time equality of two byte strings (length is not secret). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** 32 random bytes from the platform CSPRNG. */
export function randomSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
}

/** The header value a client sends for `token`. */
export function bearerHeader(token: Uint8Array): string {
  return `Bearer ${Buffer.from(token).toString("base64url")}`;
}

/**
 * Parses the authorization header into the 32-byte token, or undefined when it is absent or
 * malformed.
 */
export function parseBearer(header: string | null): Uint8Array | undefined {
  if (header === null || header.length > MAX_AUTH_HEADER_LENGTH) return undefined;
  const m = BEARER.exec(header.trim());
  if (!m || m[1] === undefined) return undefined;
  const token = new Uint8Array(Buffer.from(m[1], "base64url"));
  return token.length === SECRET_BYTES ? token : undefined;
}

/**
 * Authenticates a request by its bearer token (spec/10-relay-api.md API-03): returns the
 * caller's account address, or throws `unauthenticated` (MISSING_TOKEN or BAD_TOKEN).
 */
export async function authenticate(headers: Headers, store: RelayStore, nowMs: number): Promise<Uint8Array> {
  return (await authenticateSession(headers, store, nowMs)).address;
}

/** Like {@link authenticate}, also returning when the token expires (streams end then). */
export async function authenticateSession(
  headers: Headers,
  store: RelayStore,
  nowMs: number,
): Promise<{ address: Uint8Array; expiresAtMs: number }> {
  const header = headers.get("authorization");
  if (header === null) throw relayError("MISSING_TOKEN");
  const token = parseBearer(header);
  if (!token) throw relayError("BAD_TOKEN");
  const session = await store.findToken(sha256(token), nowMs);
  if (!session) throw relayError("BAD_TOKEN");
  return session;
}
