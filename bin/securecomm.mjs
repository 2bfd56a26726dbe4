#!/usr/bin/env node
// The `securecomm` command: registers tsx so Node can load the TypeScript CLI directly from the
// checkout (no build step), then runs client/cli/main.ts with this process's arguments.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../client/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
