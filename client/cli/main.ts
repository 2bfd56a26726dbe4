/**
 * `securecomm` entry point: parse the command line, run the command, map any failure to its
 * exit code and a fixed message.
 *
 * Owns: dispatch, help output, and the process-level Ctrl-C/SIGTERM hook for long-running
 * commands. Does not own: any command's behaviour. `main` never throws and never prints a raw
 * error, a key, a token or a passphrase.
 */

import { homedir } from "node:os";
import { helpText, parseCommandLine, type CommandLine, type CommandName } from "./args.js";
import type { CliContext } from "./context.js";
import { toCliError } from "./errors.js";
import { EXIT_OK } from "./exit-codes.js";

type Runner = (ctx: CliContext, line: CommandLine) => Promise<number>;

/**
 * The runner of each command, loaded on demand: the client runtime is a large module graph,
 * and `--help`, usage errors and the passphrase prompt should not wait for it.
 */
const RUNNERS: Readonly<Record<Exclude<CommandName, "help">, () => Promise<Runner>>> = {
  init: async () => (await import("./commands.js")).runInit,
  "room create": async () => (await import("./commands.js")).runRoomCreate,
  join: async () => (await import("./commands.js")).runJoin,
  chat: async () => (await import("./chat.js")).runChat,
  send: async () => (await import("./commands.js")).runSend,
  listen: async () => (await import("./commands.js")).runListen,
  "safety-number": async () => (await import("./commands.js")).runSafetyNumber,
  members: async () => (await import("./commands.js")).runMembers,
  leave: async () => (await import("./commands.js")).runLeave,
  remove: async () => (await import("./commands.js")).runRemove,
  rooms: async () => (await import("./commands.js")).runRooms,
  invite: async () => (await import("./commands.js")).runInvite,
  retention: async () => (await import("./commands.js")).runRetention,
};

/** The context of a real process: its streams, environment, home, and SIGINT/SIGTERM. */
export function processContext(): CliContext {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    userHome: homedir(),
    onInterrupt(handler) {
      process.on("SIGINT", handler);
      process.on("SIGTERM", handler);
      return () => {
        process.removeListener("SIGINT", handler);
        process.removeListener("SIGTERM", handler);
      };
    },
  };
}

/** Runs `securecomm` with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[], ctx: CliContext = processContext()): Promise<number> {
  try {
    const line = parseCommandLine(argv, { env: ctx.env, userHome: ctx.userHome });
    if (line.help) {
      ctx.stdout.write(`${helpText(line.command === "help" ? line.helpTopic : line.command)}\n`);
      return EXIT_OK;
    }
    if (line.command === "help") return EXIT_OK;
    const run = await RUNNERS[line.command]();
    return await run(ctx, line);
  } catch (e) {
    const error = toCliError(e);
    ctx.stderr.write(`securecomm: ${error.message}\n`);
    return error.exitCode;
  }
}
