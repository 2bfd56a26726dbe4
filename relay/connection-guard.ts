/**
 * Connection admission for the relay's listener: caps on open connections in total and per
 * source address, and eviction of the longest-idle connection when the total cap is reached
 * (spec/10-relay-api.md API-27, issue 11).
 *
 * Owns: the in-memory table of open connections (source address, requests in flight, last
 * change) and the admission decision. Source addresses live only in this table, for as long as
 * a connection from them is open: they are never logged, counted in metrics or stored. Does not
 * own sockets' protocols or HTTP/2 timeouts (relay/server.ts).
 */
import { readFileSync } from "node:fs";

/**
 * File descriptors kept free for the database, its WAL and shared-memory files, the trust root,
 * listeners and static files when the connection cap is derived from the process's limit.
 */
export const FD_RESERVE = 64;

/** One open connection as the guard sees it. */
export interface GuardedConnection {
  /** Requests (HTTP/1.1) or streams (HTTP/2) in flight. */
  active: number;
  /** When `active` last changed, or when the connection opened (monotonic ms). */
  idleSinceMs: number;
  /** Closes the connection at once (used for eviction). */
  readonly destroy: () => void;
}

/** The admission decision for a new connection. */
export type Admission =
  | { readonly admitted: true; readonly connection: GuardedConnection; readonly evicted: boolean }
  | { readonly admitted: false; readonly reason: "per_address" | "total" };

/** Caps of {@link createConnectionGuard}. */
export interface ConnectionCaps {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
}

/** The connection table. */
export interface ConnectionGuard {
  /**
   * Admits a new connection from `address` or refuses it. At the address's own cap, that
   * address's connection idle longest (nothing in flight) is destroyed to make room; at the
   * total cap, the connection idle longest of any address. With none idle, the new one is
   * refused: one address can hold at most its cap, and only with requests in flight.
   */
  admit(address: string, destroy: () => void, nowMs: number): Admission;
  /** Forgets a closed connection. Idempotent. */
  release(connection: GuardedConnection): void;
  /** A request or stream started on `connection`. */
  begin(connection: GuardedConnection, nowMs: number): void;
  /** A request or stream ended on `connection`. */
  end(connection: GuardedConnection, nowMs: number): void;
  /** Open connections. */
  readonly size: number;
  /** Distinct source addresses with an open connection (for tests of the memory bound). */
  readonly addresses: number;
}

interface Entry extends GuardedConnection {
  readonly address: string;
  released: boolean;
}

/**
 * The soft limit on open file descriptors of this process, from /proc/self/limits (Linux);
 * undefined where it cannot be read or is unlimited.
 */
export function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync("/proc/self/limits", "utf8"));
    const n = Number(line?.[1]);
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The total cap actually used: the configured one, lowered so that open connections leave
 * {@link FD_RESERVE} descriptors free under the process's descriptor limit (at least 1).
 */
export function effectiveMaxConnections(configured: number, fdLimit: number | undefined = openFileLimit()): number {
  if (fdLimit === undefined) return configured;
  return Math.max(1, Math.min(configured, fdLimit - FD_RESERVE));
}

/** Creates an empty connection table with the given caps. */
export function createConnectionGuard(caps: ConnectionCaps): ConnectionGuard {
  const open = new Set<Entry>();
  const perAddress = new Map<string, Set<Entry>>();

  const release = (c: GuardedConnection): void => {
    const e = c as Entry;
    if (e.released) return;
    e.released = true;
    open.delete(e);
    const mine = perAddress.get(e.address);
    mine?.delete(e);
    if (mine?.size === 0) perAddress.delete(e.address);
  };
  const longestIdle = (among: Iterable<Entry>): Entry | undefined => {
    let victim: Entry | undefined;
    for (const e of among) if (e.active === 0 && (!victim || e.idleSinceMs < victim.idleSinceMs)) victim = e;
    return victim;
  };
  const evict = (victim: Entry): void => {
    release(victim);
    victim.destroy();
  };

  return {
    admit(address, destroy, nowMs) {
      let evicted = false;
      const mine = perAddress.get(address);
      if (mine && mine.size >= caps.maxConnectionsPerAddress) {
        const victim = longestIdle(mine);
        if (!victim) return { admitted: false, reason: "per_address" };
        evict(victim);
        evicted = true;
      }
      if (open.size >= caps.maxConnections) {
        const victim = longestIdle(open);
        if (!victim) return { admitted: false, reason: "total" };
        evict(victim);
        evicted = true;
      }
      const entry: Entry = { address, active: 0, idleSinceMs: nowMs, destroy, released: false };
      open.add(entry);
      let set = perAddress.get(address);
      if (!set) perAddress.set(address, (set = new Set()));
      set.add(entry);
      return { admitted: true, connection: entry, evicted };
    },
    release,
    begin(c, nowMs) {
      c.active++;
      c.idleSinceMs = nowMs;
    },
    end(c, nowMs) {
      c.active = Math.max(0, c.active - 1);
      c.idleSinceMs = nowMs;
    },
    get size() {
      return open.size;
    },
    get addresses() {
      return perAddress.size;
    },
  };
}
