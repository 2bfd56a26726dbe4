#!/usr/bin/env node
// The `securecomm` command: registers tsx so Node can load the TypeScript CLI directly from the
// checkout (no build step), then runs client/cli/main.ts with this process's arguments.
import { register } from "tsx/esm/api";

/**
 * After the command finished, anything still holding the event loop (a socket the relay keeps
 * alive) must not keep the process running. The process exits as soon as standard output and
 * error have drained (a pipe may still hold written data); this is only the longest wait for
 * that.
 */
const EXIT_GRACE_MS = 2000;

/** Resolves once everything written to `stream` so far was handed to the OS. */
const drained = (stream) => new Promise((resolve) => stream.write("", () => resolve()));

register();
const { main } = await import("../client/cli/main.ts");
const code = await main(process.argv.slice(2));
process.exitCode = code;
setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);
