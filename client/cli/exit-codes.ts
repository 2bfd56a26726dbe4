/**
 * The CLI's exit codes and its one error type.
 *
 * Owns: every exit code `securecomm` can return (distinct per failure class, so scripts can
 * branch on them) and `CliError`, which carries a code and a fixed, user-facing sentence.
 * Does not own: mapping library errors to these (errors.ts).
 */

/** Success. */
export const EXIT_OK = 0;
/** An unexpected failure (a bug or an unforeseen system error); the message names only its kind. */
export const EXIT_FAILURE = 1;
/** Bad command line: unknown command or option, missing or extra argument. */
export const EXIT_USAGE = 2;
/** The home directory has no identity yet (run `securecomm init`). */
export const EXIT_NO_IDENTITY = 3;
/** The passphrase is wrong, missing (no terminal and no SECURECOMM_PASSPHRASE) or unconfirmed. */
export const EXIT_BAD_PASSPHRASE = 4;
/** The relay could not be reached. */
export const EXIT_RELAY_UNREACHABLE = 5;
/** No room or member matches the name or id given, or more than one does. */
export const EXIT_NOT_FOUND = 6;
/** A protocol check failed or a member's identity changed and is not accepted yet. */
export const EXIT_REFUSED = 7;
/** The home directory is in use by another securecomm process, or its files are damaged. */
export const EXIT_STORE = 8;
/** `init` on a home directory that already has an identity. */
export const EXIT_ALREADY_INITIALIZED = 9;
/** The invite link is malformed. */
export const EXIT_INVALID_INVITE = 10;
/** `--timeout` passed before the command finished (e.g. `listen` got fewer than N messages). */
export const EXIT_TIMEOUT = 11;
/** The relay refused the request (expired invite, rate limit, removed from the room, …). */
export const EXIT_RELAY_REFUSED = 12;
/** Interrupted by the user (Ctrl-C at a prompt), as shells report SIGINT (128 + 2). */
export const EXIT_INTERRUPTED = 130;

/** A CLI failure with its exit code and a user-facing sentence (no keys, tokens or raw errors). */
export class CliError extends Error {
  /** The process exit code for this failure. */
  readonly exitCode: number;

  constructor(exitCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
