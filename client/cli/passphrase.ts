/**
 * Getting the home directory's passphrase: from SECURECOMM_PASSPHRASE (scripts and bots), or
 * from a terminal prompt that does not echo.
 *
 * Owns: the prompt (raw mode, backspace, Ctrl-C, Ctrl-U) and the rule that a passphrase is
 * never read from a non-terminal stdin (stdin may be a chat transcript) unless the environment
 * variable provides it. Does not own: what the passphrase protects (client/file-store).
 */

import { CliError, EXIT_BAD_PASSPHRASE, EXIT_INTERRUPTED } from "./exit-codes.js";
import { ENV_PASSPHRASE } from "./args.js";
import { newPassphraseProblem } from "../vault/passphrase-policy.js";

/** The terminal streams a prompt needs (process.stdin / process.stderr, or test doubles). */
export interface PromptStreams {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  readonly stderr: NodeJS.WritableStream;
}

/** Reads one line from a raw-mode terminal without echoing it. */
export function promptHidden(question: string, streams: PromptStreams): Promise<string> {
  const { stdin, stderr } = streams;
  return new Promise<string>((resolve, reject) => {
    let value = "";
    const wasRaw = (stdin as { isRaw?: boolean }).isRaw === true;
    stdin.setRawMode?.(true);
    stdin.resume();
    stderr.write(question);
    const finish = (error?: CliError) => {
      stdin.removeListener("data", onData);
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      stderr.write("\n");
      if (error !== undefined) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003") return finish(new CliError(EXIT_INTERRUPTED, "Interrupted."));
        if (ch === "\u0004") {
          if (value.length === 0) return finish(new CliError(EXIT_BAD_PASSPHRASE, "No passphrase given."));
          return finish();
        }
        if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
        else if (ch === "\u0015") value = "";
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/**
 * The passphrase: `SECURECOMM_PASSPHRASE` if set and non-empty, else a hidden prompt on a
 * terminal (asked twice when `confirm`, for a new store). No terminal and no variable is
 * `CliError(EXIT_BAD_PASSPHRASE)`; so is a new passphrase (`confirm`) shorter than
 * MIN_PASSPHRASE_LENGTH, from either source.
 */
export async function readPassphrase(
  env: Readonly<Record<string, string | undefined>>,
  streams: PromptStreams,
  confirm: boolean,
): Promise<string> {
  const fromEnv = env[ENV_PASSPHRASE];
  if (fromEnv !== undefined && fromEnv !== "") {
    const problem = confirm ? newPassphraseProblem(fromEnv) : undefined;
    if (problem !== undefined) throw new CliError(EXIT_BAD_PASSPHRASE, `${problem} (${ENV_PASSPHRASE})`);
    return fromEnv;
  }
  if (streams.stdin.isTTY !== true || streams.stdin.setRawMode === undefined) {
    throw new CliError(EXIT_BAD_PASSPHRASE, `No passphrase: run in a terminal, or set ${ENV_PASSPHRASE}.`);
  }
  const first = await promptHidden(confirm ? "New passphrase for this identity: " : "Passphrase: ", streams);
  if (first.length === 0) throw new CliError(EXIT_BAD_PASSPHRASE, "The passphrase must not be empty.");
  if (confirm) {
    const problem = newPassphraseProblem(first);
    if (problem !== undefined) throw new CliError(EXIT_BAD_PASSPHRASE, problem);
    const second = await promptHidden("Repeat the passphrase: ", streams);
    if (second !== first) throw new CliError(EXIT_BAD_PASSPHRASE, "The passphrases do not match.");
  }
  return first;
}
