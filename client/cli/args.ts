/**
 * Command-line parsing for `securecomm`.
 *
 * Owns: the command table (names, arguments, options, help text), `parseCommandLine` (node:util
 * parseArgs; options may appear anywhere on the line) and the defaults for `--relay` and
 * `--home` from the environment. Does not own: running commands (commands.ts) or output
 * formats (format.ts). Pure: no I/O, so it is unit-tested directly.
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { CliError, EXIT_USAGE } from "./exit-codes.js";

/** Relay used when neither `--relay` nor SECURECOMM_RELAY is given (the relay's default port). */
export const DEFAULT_RELAY_URL = "http://127.0.0.1:8080";
/** Home directory name under the user's home when neither `--home` nor SECURECOMM_HOME is set. */
export const DEFAULT_HOME_NAME = ".securecomm";
/** Environment variables the CLI reads. */
export const ENV_RELAY = "SECURECOMM_RELAY";
export const ENV_HOME = "SECURECOMM_HOME";
export const ENV_PASSPHRASE = "SECURECOMM_PASSPHRASE";
/**
 * Longest display or room name in UTF-8 bytes: spec RM-18 bounds display names to 1..64 bytes
 * and client/room/invite.ts room names the same way, so the CLI refuses longer ones up front.
 */
export const MAX_NAME_BYTES = 64;
/** Largest `--count`: a bound so a typo cannot mean "forever" by accident. */
export const MAX_COUNT = 1_000_000;

/** Every command (`room create` is one command of two words). */
export type CommandName =
  | "init"
  | "room create"
  | "join"
  | "chat"
  | "send"
  | "listen"
  | "safety-number"
  | "members"
  | "leave"
  | "remove"
  | "rooms"
  | "invite"
  | "retention"
  | "help";

type OptionName = "name" | "count" | "timeout" | "json" | "include-own" | "reset" | "set" | "file" | "save-dir";

/** The retention settings the CLI offers (spec RM-54), with their lifetimes in seconds. */
export const RETENTION_SETTINGS: Readonly<Record<string, number>> = { keep: 0, week: 604_800, day: 86_400, hour: 3_600 };

interface CommandSpec {
  /** Positional argument names, in order; a trailing "TEXT..." takes the rest. */
  readonly args: readonly string[];
  readonly options: readonly OptionName[];
  readonly summary: string;
  readonly details: string;
}

/** The command table: arguments, options and help text of each command. */
export const COMMANDS: Readonly<Record<CommandName, CommandSpec>> = {
  init: {
    args: [],
    options: ["name"],
    summary: "create your identity and register it with the relay",
    details:
      "Creates an identity key pair in the home directory (encrypted under your passphrase),\n" +
      "registers it with the relay and uploads prekeys. --name NAME is required: the display\n" +
      "name other members see (it travels only inside encrypted messages).",
  },
  "room create": {
    args: ["NAME"],
    options: [],
    summary: "create a room and print its invite link",
    details:
      "Creates a room called NAME with you as its admin and prints the invite link on standard\n" +
      "output. Anyone holding the link can join, also after members leave, until the admin\n" +
      "resets it (securecomm invite ROOM --reset; removing a member resets it too). Share it\n" +
      "only with the people you want in the room.",
  },
  join: {
    args: ["LINK"],
    options: ["timeout"],
    summary: "join a room by its invite link",
    details:
      "Joins the room of invite LINK. Without --relay or SECURECOMM_RELAY, the relay is the\n" +
      "link's origin. The room is usable once a member answers the join (a member must be\n" +
      "online), so join waits for that answer: up to 30 seconds, then it exits 0 saying nobody\n" +
      "answered yet. With --timeout SECONDS it waits that long instead and exits with code 11 if\n" +
      "nobody answered. Either way the join stands and the room id is printed: the room becomes\n" +
      "usable when a member comes online. A link the room's admin has reset exits 12 and says so.",
  },
  chat: {
    args: ["ROOM"],
    options: [],
    summary: "chat interactively in a room",
    details:
      "Opens ROOM (its name or id) for chatting: type a line and press Enter to send it;\n" +
      "incoming messages appear above the prompt. Commands inside the chat:\n" +
      "  /members          list the members\n" +
      "  /verify MEMBER    show the safety number with MEMBER and mark them verified\n" +
      "  /accept MEMBER    accept MEMBER's changed identity key\n" +
      "  /leave            leave the room and exit\n" +
      "  /help             show these commands\n" +
      "  /quit             exit (also Ctrl-D)",
  },
  send: {
    args: ["ROOM", "TEXT..."],
    options: ["file"],
    summary: "send one message to a room and exit",
    details:
      "Catches up with the room, sends TEXT (the remaining arguments, joined by spaces) and\n" +
      "exits. Put -- before a text that starts with a dash. --file PATH (up to 4 times) encrypts\n" +
      "each file under a fresh key, uploads it to the relay and sends it with the message; TEXT\n" +
      "may then be left out.",
  },
  listen: {
    args: ["ROOM"],
    options: ["count", "timeout", "include-own", "save-dir"],
    summary: "print incoming messages as JSON lines",
    details:
      "Prints each message arriving in ROOM as one JSON line (kind \"message\", room, seq, id,\n" +
      "sender, senderName, text, sentAt, postedAt, own; replyTo, edited, deleted, reactions when\n" +
      "they apply). Edits, deletes and reactions are lines of kind \"edit\", \"delete\" and\n" +
      "\"reaction\" naming the message by id, with its text, deleted flag and reactions after the\n" +
      "change. --count N exits after N messages; --timeout SECONDS exits with\n" +
      "code 11 if they have not arrived by then. Your own messages are skipped unless\n" +
      "--include-own is given. Messages not printed (past N, or received by other commands)\n" +
      "are kept and printed first by the next listen. A message with files lists them under\n" +
      "\"attachments\" (name, type, size); with --save-dir DIR each file is downloaded, checked and\n" +
      "saved in DIR under a safe name (never outside DIR, never over an existing file), and\n" +
      "\"saved\" gives its path (or \"error\" says why it was refused).",
  },
  "safety-number": {
    args: ["ROOM", "MEMBER"],
    options: ["json"],
    summary: "print the safety number with a member",
    details:
      "Prints the 60-digit safety number between you and MEMBER (a display name or address)\n" +
      "of ROOM. Compare it with the one MEMBER sees, in person or on a call you trust; if they\n" +
      "match, nobody is in the middle. Mark them verified with /verify in chat.",
  },
  members: {
    args: ["ROOM"],
    options: ["json"],
    summary: "list a room's members",
    details: "Lists the members of ROOM with their address, admin role and verification state.",
  },
  leave: {
    args: ["ROOM"],
    options: [],
    summary: "leave a room",
    details: "Leaves ROOM: the remaining members rotate their keys, so you can read nothing sent afterwards.",
  },
  remove: {
    args: ["ROOM", "MEMBER"],
    options: [],
    summary: "remove a member from a room (admins only)",
    details:
      "Removes MEMBER (a display name or address) from ROOM: every remaining member rotates the\n" +
      "room's keys and the invite link is reset, so MEMBER can read nothing sent afterwards and cannot\n" +
      "join again. Only the room's admin may remove\n" +
      "members (exit code 7 otherwise).",
  },
  rooms: {
    args: [],
    options: ["json"],
    summary: "list your rooms",
    details: "Lists the rooms you are in (and those you left) with their id and member count.",
  },
  invite: {
    args: ["ROOM"],
    options: ["reset"],
    summary: "print a room's invite link (--reset: replace it, admins only)",
    details:
      "Catches up with ROOM and prints its current invite link on standard output. Any member\n" +
      "can share it; it keeps working when members leave. With --reset (the room's admin only)\n" +
      "the link is replaced: the old one stops working (joiners are told it was reset) and every\n" +
      "member's client learns the new one. Removing a member resets the link automatically.",
  },
  retention: {
    args: ["ROOM"],
    options: ["set"],
    summary: "show or set a room's disappearing messages",
    details:
      "Prints ROOM's disappearing-messages setting (keep, week, day or hour). With --set SETTING\n" +
      "any member changes it for everyone: every member's client then deletes messages older\n" +
      "than that from the history it keeps, and every member sees who changed it.",
  },
  help: {
    args: [],
    options: [],
    summary: "show help for a command",
    details: "securecomm help COMMAND shows the help of COMMAND.",
  },
};

const OPTION_HELP: Readonly<Record<OptionName, string>> = {
  name: "--name NAME        your display name",
  count: "--count N          exit after N messages",
  timeout: "--timeout SECONDS  give up after SECONDS (exit code 11)",
  json: "--json             print JSON instead of a table",
  "include-own": "--include-own      also print your own messages",
  reset: "--reset            replace the link (admins only)",
  set: "--set SETTING      keep, week, day or hour",
  file: "--file PATH        send the file at PATH (up to 4 times)",
  "save-dir": "--save-dir DIR     save received files in DIR",
};

const GLOBAL_HELP =
  "Options (anywhere on the line):\n" +
  `  --relay URL   relay to use (default ${DEFAULT_RELAY_URL}, or $${ENV_RELAY})\n` +
  `  --home DIR    where your encrypted keys live (default ~/${DEFAULT_HOME_NAME}, or $${ENV_HOME})\n` +
  "  -h, --help    show help\n" +
  `The passphrase protecting the home directory is asked for on the terminal (not echoed),\n` +
  `or read from $${ENV_PASSPHRASE} (for scripts and bots).`;

/** The usage line of `command`, e.g. "securecomm send ROOM TEXT...". */
export function usageLine(command: CommandName): string {
  const spec = COMMANDS[command];
  const opts = spec.options.map((o) => (o === "name" ? "--name NAME" : `[${OPTION_HELP[o].split(/ {2,}/)[0]}]`));
  return ["securecomm", command, ...spec.args, ...opts].join(" ");
}

/** The help text of `command`, or the overview when `command` is undefined. */
export function helpText(command?: CommandName): string {
  if (command === undefined) {
    const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
    const lines = (Object.keys(COMMANDS) as CommandName[]).map((c) => `  ${c.padEnd(width)}  ${COMMANDS[c].summary}`);
    return (
      "securecomm: end-to-end encrypted chat rooms\n\n" +
      "Usage: securecomm COMMAND [ARGS] [OPTIONS]\n\nCommands:\n" +
      `${lines.join("\n")}\n\n${GLOBAL_HELP}\n\nRun "securecomm COMMAND --help" for a command's details.`
    );
  }
  const spec = COMMANDS[command];
  const opts = spec.options.map((o) => `  ${OPTION_HELP[o]}`);
  return (
    `Usage: ${usageLine(command)}\n\n${spec.details}\n` +
    (opts.length > 0 ? `\n${opts.join("\n")}\n` : "") +
    `\n${GLOBAL_HELP}`
  );
}

/** A parsed command line. */
export interface CommandLine {
  readonly command: CommandName;
  /** Positional arguments after the command words (TEXT... already joined). */
  readonly args: readonly string[];
  /** `--help` was given: print `helpText(command)` and do nothing else. */
  readonly help: boolean;
  readonly relayUrl: string;
  /** True when the relay came from `--relay` or the environment (not the default). */
  readonly relayExplicit: boolean;
  readonly home: string;
  readonly name?: string;
  readonly count?: number;
  readonly timeoutMs?: number;
  readonly json: boolean;
  readonly includeOwn: boolean;
  /** `invite --reset`. */
  readonly reset?: boolean;
  /** `retention --set SETTING`: the lifetime in seconds (0 = keep). */
  readonly retentionSeconds?: number;
  /** `send --file PATH`: files to send (at most 4). */
  readonly files?: readonly string[];
  /** `listen --save-dir DIR`: where received files are saved. */
  readonly saveDir?: string;
  /** For `help COMMAND`: the command asked about. */
  readonly helpTopic?: CommandName;
}

/** What the parser reads from the environment. */
export interface ParseEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's home directory (os.homedir()). */
  readonly userHome: string;
}

function usage(message: string, command?: CommandName): CliError {
  const hint = command === undefined ? 'Run "securecomm --help".' : `Usage: ${usageLine(command)}`;
  return new CliError(EXIT_USAGE, `${message}\n${hint}`);
}

/** Checks a display or room name: non-empty after trimming, at most MAX_NAME_BYTES, no control characters. */
export function validateName(value: string, what: string, command: CommandName): string {
  const name = value.trim();
  if (name.length === 0) throw usage(`The ${what} must not be empty.`, command);
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) throw usage(`The ${what} must be at most ${MAX_NAME_BYTES} bytes.`, command);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw usage(`The ${what} must not contain control characters.`, command);
  return name;
}

/** Parses and validates a relay URL (http or https, no credentials); returns it without a trailing slash. */
export function parseRelayUrl(value: string, command?: CommandName): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usage("The relay must be a URL such as http://127.0.0.1:8080.", command);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username !== "" || url.password !== "") {
    throw usage("The relay must be an http:// or https:// URL without credentials.", command);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/**
 * Longest word an error message repeats back. Command and option names are short lowercase
 * words; anything longer, or with other characters (a link, a token, a passphrase with digits or
 * spaces), may be a secret pasted in the wrong place and is never printed.
 */
export const MAX_ECHOED_WORD = 16;

/** `word` in quotes when it looks like a command or option name, else undefined. */
export function echoableWord(word: string): string | undefined {
  return word.length <= MAX_ECHOED_WORD && /^-{0,2}[a-z][a-z-]*$/.test(word) ? `"${word}"` : undefined;
}

/** "Unknown command "frobnicate"." (or without the word when it might be a secret). */
function unknownCommand(word: string): string {
  const shown = echoableWord(word);
  return shown === undefined ? "Unknown command (not repeated here: it does not look like a command name)." : `Unknown command ${shown}.`;
}

function resolveCommand(positionals: string[]): { command: CommandName; rest: string[] } | undefined {
  const [first, second, ...rest] = positionals;
  if (first === undefined) return undefined;
  if (first === "room") {
    if (second === "create") return { command: "room create", rest };
    throw usage(second === undefined ? 'Missing subcommand: "room create NAME".' : 'Unknown subcommand: only "room create" exists.');
  }
  if (Object.hasOwn(COMMANDS, first) && first !== "room create") {
    return { command: first as CommandName, rest: second === undefined ? rest : [second, ...rest] };
  }
  throw usage(unknownCommand(first));
}

/**
 * Parses `argv` (without node and script). Throws `CliError(EXIT_USAGE)` with a message and
 * the command's usage line for anything malformed; names an unknown command or option only
 * when it looks like one ({@link echoableWord}), never another argument (it could be a secret
 * pasted in the wrong place).
 */
export function parseCommandLine(argv: readonly string[], environment: ParseEnvironment): CommandLine {
  let parsed: ReturnType<typeof parseRaw>;
  try {
    parsed = parseRaw(argv);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      // Node's message quotes the option as typed ('--bogus' or '-x'); repeat only its name.
      const typed = /'(-[^'=]*)/.exec((e as Error).message)?.[1];
      const shown = typed === undefined ? undefined : echoableWord(typed);
      throw usage(shown === undefined ? "Unknown option (not repeated here: it does not look like an option name)." : `Unknown option ${shown}.`);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw usage("An option is missing its value.");
    throw usage("The command line could not be parsed.");
  }
  const { values, positionals } = parsed;
  const resolved = resolveCommand(positionals);
  const help = values.help === true;
  if (resolved === undefined) {
    if (help) return base("help", [], true);
    throw usage("Missing command.");
  }
  const { command, rest } = resolved;

  function base(cmd: CommandName, args: string[], wantsHelp: boolean, extra: Partial<CommandLine> = {}): CommandLine {
    const envRelay = environment.env[ENV_RELAY];
    const relaySource = values.relay ?? (envRelay !== undefined && envRelay !== "" ? envRelay : undefined);
    const envHome = environment.env[ENV_HOME];
    const home = values.home ?? (envHome !== undefined && envHome !== "" ? envHome : join(environment.userHome, DEFAULT_HOME_NAME));
    if (values.home !== undefined && values.home === "") throw usage("--home must not be empty.", cmd);
    return {
      command: cmd,
      args,
      help: wantsHelp,
      relayUrl: wantsHelp ? DEFAULT_RELAY_URL : parseRelayUrl(relaySource ?? DEFAULT_RELAY_URL, cmd),
      relayExplicit: relaySource !== undefined,
      home,
      json: values.json === true,
      includeOwn: values["include-own"] === true,
      ...extra,
    };
  }

  if (help) return base(command, [], true);
  const spec = COMMANDS[command];
  for (const opt of ["name", "count", "timeout", "json", "include-own", "reset", "set", "file", "save-dir"] as const) {
    if (values[opt] !== undefined && !spec.options.includes(opt)) throw usage(`--${opt} is not an option of "${command}".`, command);
  }

  if (command === "help") {
    if (rest.length === 0) return base("help", [], true);
    const topic = rest.join(" ") === "room create" || rest.join(" ") === "room" ? "room create" : rest[0];
    if (topic === undefined || !Object.hasOwn(COMMANDS, topic)) throw usage(unknownCommand(topic ?? ""));
    return base("help", [], true, { helpTopic: topic as CommandName });
  }

  const variadic = spec.args.at(-1)?.endsWith("...") === true;
  const required = spec.args.length;
  // `send ROOM --file PATH` needs no text.
  const files = values.file ?? [];
  if (command === "send" && files.length > 0 && rest.length === required - 1) rest.push("");
  if (rest.length < required) {
    const missing = spec.args[rest.length] ?? "";
    throw usage(missing.endsWith("...") ? `Missing argument ${missing}` : `Missing argument ${missing}.`, command);
  }
  if (!variadic && rest.length > required) throw usage("Too many arguments.", command);
  const args = variadic ? [...rest.slice(0, required - 1), rest.slice(required - 1).join(" ")] : rest;

  const extra: { name?: string; count?: number; timeoutMs?: number; reset?: boolean; retentionSeconds?: number } = {};
  if (values.reset === true) extra.reset = true;
  if (values.set !== undefined) {
    const seconds = RETENTION_SETTINGS[values.set];
    if (!Object.hasOwn(RETENTION_SETTINGS, values.set) || seconds === undefined) throw usage("--set must be keep, week, day or hour.", command);
    extra.retentionSeconds = seconds;
  }
  if (command === "init") {
    if (values.name === undefined) throw usage("--name NAME is required.", command);
    extra.name = validateName(values.name, "display name", command);
  }
  if (command === "room create") args[0] = validateName(args[0] ?? "", "room name", command);
  if (command === "send" && (args[1] ?? "").length === 0 && files.length === 0) throw usage("The message must not be empty.", command);
  const extraFiles: { files?: string[]; saveDir?: string } = {};
  if (files.length > 0) {
    if (files.length > 4 || files.some((f) => f === "")) throw usage("--file takes a path, at most 4 times.", command);
    extraFiles.files = files;
  }
  if (values["save-dir"] !== undefined) {
    if (values["save-dir"] === "") throw usage("--save-dir must not be empty.", command);
    extraFiles.saveDir = values["save-dir"];
  }
  if (values.count !== undefined) {
    if (!/^[0-9]+$/.test(values.count)) throw usage("--count must be a positive whole number.", command);
    const n = Number(values.count);
    if (n < 1 || n > MAX_COUNT) throw usage(`--count must be between 1 and ${MAX_COUNT}.`, command);
    extra.count = n;
  }
  if (values.timeout !== undefined) {
    const s = Number(values.timeout);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(values.timeout) || !(s > 0) || s > 86_400) {
      throw usage("--timeout must be a number of seconds between 0 and 86400.", command);
    }
    extra.timeoutMs = Math.round(s * 1000);
  }
  return base(command, args, false, { ...extra, ...extraFiles });
}

function parseRaw(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      relay: { type: "string" },
      home: { type: "string" },
      help: { type: "boolean", short: "h" },
      name: { type: "string" },
      count: { type: "string" },
      timeout: { type: "string" },
      json: { type: "boolean" },
      "include-own": { type: "boolean" },
      reset: { type: "boolean" },
      set: { type: "string" },
      file: { type: "string", multiple: true },
      "save-dir": { type: "string" },
    },
  });
}
