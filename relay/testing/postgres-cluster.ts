// A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary directory,
// `pg_ctl start` on a free loopback port (and a Unix socket in the same directory), stopped and
// removed afterwards. Nothing depends on a server that happens to be running.
//
// Owns: finding the binaries (Debian's /usr/lib/postgresql/<major>/bin, or PG_BIN), running
// them as the `postgres` user when we are root (initdb and postgres refuse root), per-test
// databases, restarts for fault tests, and teardown. Test-only; never imported by product code.

import { execFile, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where Debian installs the server binaries (not on PATH). */
const DEBIAN_PG_ROOT = "/usr/lib/postgresql";

/** A running throwaway cluster. */
export interface PostgresCluster {
  /** The loopback port it listens on. */
  readonly port: number;
  /** URL of database `name` (default the `postgres` maintenance database). */
  url(name?: string): string;
  /** Creates a fresh empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast: connections are cut, as in a database restart). */
  stopServer(): Promise<void>;
  /** Starts the server again on the same port and data. */
  startServer(): Promise<void>;
  /** Stops the server and removes every file. */
  destroy(): Promise<void>;
}

/** The directory of initdb and pg_ctl: PG_BIN, or the newest of Debian's /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv && existsSync(join(fromEnv, "initdb"))) return fromEnv;
  const majors = existsSync(DEBIAN_PG_ROOT) ? readdirSync(DEBIAN_PG_ROOT).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const major of majors) {
    const dir = join(DEBIAN_PG_ROOT, major, "bin");
    if (existsSync(join(dir, "initdb"))) return dir;
  }
  throw new Error("PostgreSQL server binaries not found: install Debian's `postgresql` package (.ci/run does) or set PG_BIN");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const asRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Runs a server binary, as the `postgres` user when we are root. */
async function pg(bin: string, tool: string, args: string[]): Promise<void> {
  const file = join(bin, tool);
  if (asRoot) await run("runuser", ["-u", "postgres", "--", file, ...args], { timeout: 120_000 });
  else await run(file, args, { timeout: 120_000 });
}

let databases = 0;

/** Options of {@link startPostgresCluster}. */
export interface PostgresClusterOptions {
  /**
   * Keep fsync on (benchmarks: durable commits as in production). Tests leave it off: they
   * exercise server crashes and restarts, not machine crashes, and committed data survives
   * those in the OS page cache.
   */
  durable?: boolean;
}

/** Starts a fresh cluster (about a second). Call destroy() when done. */
export async function startPostgresCluster(clusterOptions: PostgresClusterOptions = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), "securecomm-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "log");
  if (asRoot) chownSync(dir, (await uidOf("postgres")).uid, (await uidOf("postgres")).gid);
  const port = await freePort();
  await pg(bin, "initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"]);
  writeFileSync(join(dir, "README"), "Throwaway PostgreSQL cluster of a SecureComm test run; safe to delete.\n");
  const sync = clusterOptions.durable ? "" : " -c fsync=off -c full_page_writes=off";
  const options = `-k ${dir} -p ${port} -h 127.0.0.1 -c max_connections=200 -c shared_buffers=64MB${sync}`;
  const startServer = async (): Promise<void> => {
    await pg(bin, "pg_ctl", ["-D", data, "-o", options, "-l", log, "-w", "-t", "60", "start"]);
  };
  const stopServer = async (): Promise<void> => {
    await pg(bin, "pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"]);
  };
  try {
    await startServer();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // If this process dies without destroy() (a killed test run), a watchdog stops the server
  // and removes its files, so no cluster outlives its run.
  const stopCmd = [...(asRoot ? ["runuser", "-u", "postgres", "--"] : []), join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"].map(shellQuote).join(" ");
  const watchdog = spawn("bash", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; ${stopCmd} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`], { detached: true, stdio: "ignore" });
  watchdog.unref();
  const url = (name = "postgres"): string => `postgres://postgres@127.0.0.1:${port}/${name}`;
  let destroyed = false;
  return {
    port,
    url,
    async createDatabase() {
      const name = `t${process.pid}_${++databases}_${Math.random().toString(36).slice(2, 8)}`;
      // Imported here, so the run's global setup (initdb and pg_ctl only) needs no client package.
      const { default: postgres } = await import("postgres");
      const admin = postgres(url(), { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end({ timeout: 1 });
      }
      return url(name);
    },
    stopServer,
    startServer,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      watchdog.kill("SIGKILL");
      try {
        await pg(bin, "pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "60", "stop"]);
      } catch {
        // Already stopped.
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

async function uidOf(user: string): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run("id", ["-u", user]);
  const { stdout: g } = await run("id", ["-g", user]);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}
