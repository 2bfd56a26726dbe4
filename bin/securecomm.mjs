#!/usr/bin/env node
// The `securecomm` command: registers tsx so Node can load the TypeScript CLI directly from the
// checkout (no build step), then runs client/cli/main.ts with this process's arguments.
import { register } from "tsx/esm/api";

/**
 * After the command finished, anything still holding the event loop (a socket the relay keeps
 * alive) must not keep the process running; this grace lets buffered output drain first.
 */
const EXIT_GRACE_MS = 2000;

register();
const { main } = await import("../client/cli/main.ts");
const code = await main(process.argv.slice(2));
process.exitCode = code;
setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
