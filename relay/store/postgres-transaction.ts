/**
 * Transactions on the `postgres` client that survive losing their connection (DESIGN §5,
 * "Storage"): a database restart fails the call unavailable and nothing else.
 *
 * Owns: the one way the relay's PostgreSQL code opens a multi-statement transaction. Does not
 * own the statements or the mapping of failures to StoreUnavailableError (postgres-store.ts).
 */
import type { Sql } from "postgres";

/**
 * Failures after which the transaction's connection is certainly gone: the socket failed, or
 * the server ended the session (FATAL admin shutdown, crash shutdown, cannot connect now).
 */
const CONNECTION_GONE_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "ECONNRESET", "EPIPE", "57P01", "57P02", "57P03"]);

/**
 * `sql.begin(fn)`, except that when the connection is lost inside `fn` the client library
 * does not get to send its ROLLBACK: postgres 3.4.x writes that ROLLBACK to the closed
 * connection, which throws from a timer (`socket.write` on null, porsager/postgres #1154,
 * #1208) and kills the process, or goes to the connection's next session. The server rolled
 * the transaction back when the session ended; `begin` itself rejects with the close
 * (CONNECTION_CLOSED, unavailable). Only `fn`'s own promise is left pending, and is collected.
 */
export function transaction<T>(sql: Sql, fn: (tx: Sql) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    try {
      return await fn(tx as unknown as Sql);
    } catch (err) {
      const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
      if (typeof code === "string" && CONNECTION_GONE_CODES.has(code)) return new Promise<never>(() => {});
      throw err;
    }
  }) as Promise<T>;
}
