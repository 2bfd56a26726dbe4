/**
 * Servers under test, each in its own process: the relay (relay/main.ts), the bare Connect
 * fan-out baseline and the bare node:http2 ceiling, all through bench/server-host.ts with
 * --expose-gc so the benchmark can read memory after a forced GC and CPU time over IPC.
 *
 * Owns: starting a hosted server and waiting for its listening line, and registering a relay
 * account (challenge, signed proof, bearer token) as a client does. Prints nothing.
 */

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createIdentityKeyPair } from "../client/keys/identity.js";
import { AccountService } from "../gen/securecomm/relay/v1/account_pb.js";
import { forkHelper, type IpcPeer, waitForLine } from "./ipc.js";

/** Which server: relay, bare Connect baseline or bare node:http2 ceiling. */
export type ServerKind = "ceiling" | "connect" | "relay";

/**
 * Relay limits raised for benchmarks (RELAY_* environment, relay/config.ts), so they measure
 * delivery and storage, not the abuse limits.
 */
export const BENCH_RELAY_ENV: Readonly<Record<string, string>> = {
  RELAY_MAX_ROOM_POSTS_PER_MINUTE: "100000000",
  RELAY_MAX_SENDS_PER_MAILBOX_PER_MINUTE: "100000000",
  RELAY_MAX_STREAMS_PER_ACCOUNT: "1000000",
  RELAY_MAX_ROOM_LOG_ENVELOPES: "100000000",
  RELAY_MAX_MAILBOX_ENVELOPES: "100000000",
  RELAY_MAX_ROOMS_CREATED_PER_MINUTE: "1000000",
  // Every simulated client connects from 127.0.0.1: the per-address cap (64, which evicts the
  // longest-idle connection beyond it) would cut a 100-member room's clients off each other.
  RELAY_MAX_CONNECTIONS_PER_ADDRESS: "100000",
};

const LISTENING: Record<ServerKind, RegExp> = {
  relay: /^SecureComm relay listening on (\S+)$/m,
  connect: /^baseline listening on (\S+)$/m,
  ceiling: /^ceiling listening on (\S+)$/m,
};

/** Starts `kind` in its own process (the relay on SQLite in `dataDir`); resolves once it listens. */
export async function startHostedServer(kind: ServerKind, dataDir?: string, env: Record<string, string> = {}): Promise<{ url: string; host: IpcPeer }> {
  if (kind === "relay" && dataDir === undefined) throw new TypeError("the relay needs a data directory");
  const args = kind === "relay" ? ["relay", "--port", "0", "--data-dir", dataDir!, "--log-level", "warn"] : [kind];
  const host = forkHelper("bench/server-host.ts", args, { nodeFlags: ["--expose-gc"], env: { ...BENCH_RELAY_ENV, ...env } });
  try {
    return { url: await waitForLine(host.child, LISTENING[kind]), host };
  } catch (error) {
    await host.stop();
    throw error;
  }
}

/** Registers a fresh identity with the relay at `url`; returns its auth headers and address. */
export async function registerAccount(url: string): Promise<{ headers: Record<string, string>; address: Uint8Array }> {
  const accounts = createClient(AccountService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
  const identity = createIdentityKeyPair();
  const identityKey = identity.publicKey.serialize();
  const { challenge } = await accounts.createChallenge({ identityKey });
  const signed = new Uint8Array([...new TextEncoder().encode("SecureComm relay auth v1"), ...challenge, ...identityKey]);
  const proof = await accounts.proveIdentity({ identityKey, challenge, signature: identity.privateKey.sign(signed), registrationId: identity.registrationId });
  return { headers: { authorization: `Bearer ${Buffer.from(proof.token).toString("base64url")}` }, address: proof.address };
}
