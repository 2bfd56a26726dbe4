// The relay process: `npm start -- [options]` (node --import tsx relay/main.ts).
//
// Owns: reading configuration (relay/config.ts), opening the relay (relay/services), starting
// the server (relay/server.ts), the one "listening" line, exit codes (0 clean, 1 failure,
// 2 bad usage) and signal handling: SIGTERM/SIGINT stop accepting, finish in-flight
// requests, close the relay (database) and exit 0. Prints no identifiers or addresses.

import { readFile } from "node:fs/promises";
import { parseRelayConfig } from "./config.js";
import { SHUTDOWN_GRACE_MS, startRelayServer } from "./server.js";
import { openRelay } from "./services/index.js";

/** Exit status for bad flags or environment (conventional "usage" status). */
export const EXIT_USAGE = 2;
/** Exit status when the relay cannot start (port taken, unreadable data directory, …). */
export const EXIT_FAILURE = 1;
/**
 * Hard limit on a signalled shutdown: the server's grace period for in-flight requests plus
 * time for the relay to finish its writes and close the database. Past it the process exits 1
 * rather than hang under a supervisor that would then SIGKILL it anyway.
 */
export const SHUTDOWN_DEADLINE_MS = SHUTDOWN_GRACE_MS + 20_000;

async function main(): Promise<void> {
  const parsed = parseRelayConfig(process.argv.slice(2), process.env);
  if (parsed.kind === "help") {
    process.stdout.write(parsed.text);
    return;
  }
  if (parsed.kind === "error") {
    process.stderr.write(`securecomm relay: ${parsed.message}\nRun with --help for the options.\n`);
    process.exit(EXIT_USAGE);
  }
  const { config } = parsed;

  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (config.tls) {
    try {
      tls = { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) };
    } catch {
      process.stderr.write("securecomm relay: cannot read the TLS certificate or key file\n");
      process.exit(EXIT_USAGE);
    }
  }

  const relay = await openRelay({
    dataDir: config.dataDir,
    ...(config.databaseUrl !== undefined ? { databaseUrl: config.databaseUrl } : {}),
    limits: config.limits,
    ...(config.logLevel !== undefined ? { logLevel: config.logLevel } : {}),
    ...(config.senderCertificateDays !== undefined
      ? { senderCertificateDays: config.senderCertificateDays }
      : {}),
  });

  let server;
  try {
    server = await startRelayServer({
      relay,
      host: config.host,
      port: config.port,
      ...(tls ? { tls } : {}),
      ...(config.staticDir !== undefined ? { staticDir: config.staticDir } : {}),
      ...(config.metrics !== undefined ? { metrics: config.metrics } : {}),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unknown error";
    relay.logger.error("cannot listen", { code });
    if (code === "EADDRINUSE") {
      process.stderr.write(
        `securecomm relay: port ${config.port} on ${config.host} is already in use; stop what uses it or choose another port with --port N (or PORT=N)\n`,
      );
    }
    await relay.close();
    process.exit(EXIT_FAILURE);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal while draining: give up on the grace period.
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    relay.logger.info("shutting down", { signal });
    setTimeout(() => {
      relay.logger.error("shutdown took too long");
      process.exit(EXIT_FAILURE);
    }, SHUTDOWN_DEADLINE_MS).unref();
    void (async () => {
      try {
        await server.close();
        await relay.close();
        process.exit(0);
      } catch {
        relay.logger.error("shutdown failed");
        process.exit(EXIT_FAILURE);
      }
    })();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Announce only once the handlers are in place: a supervisor (or a test) that signals as
  // soon as it reads this line must reach `stop`, not the default action that kills us.
  process.stdout.write(`SecureComm relay listening on ${server.url}\n`);
  if (server.metricsUrl !== undefined) process.stdout.write(`SecureComm relay metrics on ${server.metricsUrl}\n`);
}

main().catch((error: unknown) => {
  // Startup failures are configuration or environment problems; print the class of error
  // only (the message may contain paths, never identifiers).
  const message = error instanceof Error ? error.message : "unknown error";
  process.stderr.write(`securecomm relay: failed to start: ${message}\n`);
  process.exit(EXIT_FAILURE);
});
