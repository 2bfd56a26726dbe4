// A real relay for tests: openRelay on a fresh temporary data directory (real SQLite file),
// served by startRelayServer on a free port over real HTTP/1.1 and h2c (or TLS).
//
// Owns: temporary directories and teardown order for tests. Tests in any folder may use it;
// it is never imported by product code.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRelay, type Relay, type RelayOptions } from "../services/index.js";
import { startRelayServer, type MetricsEndpointOptions, type RelayServer, type RelayTlsOptions } from "../server.js";

/** Options of {@link startTestRelay}; everything optional. */
export interface TestRelayOptions {
  /** Use this data directory instead of a fresh temporary one (it is then not deleted). */
  readonly dataDir?: string;
  readonly limits?: RelayOptions["limits"];
  readonly senderCertificateDays?: number;
  readonly now?: () => number;
  /** Default "silent", so test output stays clean. */
  readonly logLevel?: RelayOptions["logLevel"];
  readonly tls?: RelayTlsOptions;
  readonly staticDir?: string;
  /** Where /metrics is served (API-30); nowhere by default. */
  readonly metrics?: MetricsEndpointOptions;
  /** Wraps the relay's blob store (a hostile relay tampering with stored blobs). */
  readonly wrapBlobs?: RelayOptions["wrapBlobs"];
  /** Grace period for in-flight requests on close; default 2 s in tests. */
  readonly shutdownGraceMs?: number;
}

/** A running test relay. */
export interface TestRelay {
  /** Base URL, e.g. "http://127.0.0.1:41234". */
  readonly url: string;
  readonly port: number;
  /** The data directory (SQLite file and trust root). */
  readonly dataDir: string;
  readonly relay: Relay;
  readonly server: RelayServer;
  /** Stops the server, closes the relay and deletes a temporary data directory. Idempotent. */
  close(): Promise<void>;
}

/** Starts a real relay on 127.0.0.1 with port 0 and a temporary data directory. */
export async function startTestRelay(options: TestRelayOptions = {}): Promise<TestRelay> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "securecomm-relay-")));
  let relay: Relay | undefined;
  try {
    relay = await openRelay({
      dataDir,
      logLevel: options.logLevel ?? "silent",
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
      ...(options.senderCertificateDays !== undefined
        ? { senderCertificateDays: options.senderCertificateDays }
        : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
      ...(options.wrapBlobs !== undefined ? { wrapBlobs: options.wrapBlobs } : {}),
    });
    const server = await startRelayServer({
      relay,
      host: "127.0.0.1",
      port: 0,
      shutdownGraceMs: options.shutdownGraceMs ?? 2000,
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      ...(options.staticDir !== undefined ? { staticDir: options.staticDir } : {}),
      ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    });
    const opened = relay;
    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      port: server.port,
      dataDir,
      relay: opened,
      server,
      close: () =>
        (closing ??= (async () => {
          await server.close();
          await opened.close();
          if (ownDir) await rm(dataDir, { recursive: true, force: true });
        })()),
    };
  } catch (error) {
    await relay?.close();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}
