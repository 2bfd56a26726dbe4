// Unit tests of command-line parsing: commands, options anywhere, defaults from the
// environment, and a usage error (exit code 2) for everything malformed.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMANDS, DEFAULT_RELAY_URL, helpText, parseCommandLine, usageLine, type CommandName } from "./args.js";
import { CliError, EXIT_USAGE } from "./exit-codes.js";

const ENV = { env: {}, userHome: "/home/u" };
const parse = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(argv, { env, userHome: "/home/u" });

function usageError(argv: string[]): CliError {
  try {
    parseCommandLine(argv, ENV);
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(EXIT_USAGE);
    return e as CliError;
  }
  throw new Error("expected a usage error");
}

describe("parseCommandLine", () => {
  it("parses every command with its arguments and the defaults", () => {
    expect(parse(["init", "--name", "Alice"])).toMatchObject({ command: "init", name: "Alice", relayUrl: DEFAULT_RELAY_URL, relayExplicit: false, home: "/home/u/.securecomm" });
    expect(parse(["room", "create", "Team"])).toMatchObject({ command: "room create", args: ["Team"] });
    expect(parse(["join", "http://h/#join=abc"])).toMatchObject({ command: "join", args: ["http://h/#join=abc"] });
    expect(parse(["chat", "Team"])).toMatchObject({ command: "chat", args: ["Team"] });
    expect(parse(["send", "Team", "hello", "there"])).toMatchObject({ command: "send", args: ["Team", "hello there"] });
    expect(parse(["listen", "Team", "--count", "3"])).toMatchObject({ command: "listen", args: ["Team"], count: 3, includeOwn: false });
    expect(parse(["safety-number", "Team", "Bob"])).toMatchObject({ command: "safety-number", args: ["Team", "Bob"] });
    expect(parse(["members", "Team", "--json"])).toMatchObject({ command: "members", json: true });
    expect(parse(["leave", "Team"])).toMatchObject({ command: "leave", args: ["Team"] });
    expect(parse(["rooms"])).toMatchObject({ command: "rooms", args: [] });
  });

  it("accepts --relay and --home anywhere on the line", () => {
    const a = parse(["--relay", "http://r:1/", "send", "--home", "/h", "Team", "hi"]);
    const b = parse(["send", "Team", "hi", "--home=/h", "--relay=http://r:1"]);
    for (const line of [a, b]) expect(line).toMatchObject({ command: "send", args: ["Team", "hi"], relayUrl: "http://r:1", relayExplicit: true, home: "/h" });
  });

  it("takes --relay and --home from the environment, the command line winning", () => {
    const env = { SECURECOMM_RELAY: "https://relay.example:8443", SECURECOMM_HOME: "/srv/bot" };
    expect(parse(["rooms"], env)).toMatchObject({ relayUrl: "https://relay.example:8443", relayExplicit: true, home: "/srv/bot" });
    expect(parse(["rooms", "--home", "/x", "--relay", "http://a:2"], env)).toMatchObject({ relayUrl: "http://a:2", home: "/x" });
    expect(parse(["rooms"], { SECURECOMM_RELAY: "", SECURECOMM_HOME: "" })).toMatchObject({ relayUrl: DEFAULT_RELAY_URL, home: "/home/u/.securecomm" });
  });

  it("sends a text starting with a dash after --", () => {
    expect(parse(["send", "Team", "--", "-1 for that"])).toMatchObject({ args: ["Team", "-1 for that"] });
  });

  it("gives help for every command, with -h or --help anywhere, and help COMMAND", () => {
    for (const command of Object.keys(COMMANDS) as CommandName[]) {
      const words = command.split(" ");
      expect(parse([...words, "--help"])).toMatchObject({ command, help: true });
      expect(helpText(command)).toContain(usageLine(command));
    }
    expect(parse(["-h"])).toMatchObject({ command: "help", help: true });
    expect(parse(["help", "listen"])).toMatchObject({ command: "help", helpTopic: "listen" });
    expect(parse(["help", "room", "create"])).toMatchObject({ helpTopic: "room create" });
    // --help wins over missing arguments and does not validate the relay.
    expect(parse(["send", "--help", "--relay", "nope"])).toMatchObject({ command: "send", help: true });
  });

  it("rejects malformed command lines with exit code 2 and a usage line", () => {
    expect(usageError([]).message).toContain("Missing command");
    expect(usageError(["frobnicate"]).message).toContain('Unknown command "frobnicate".');
    expect(usageError(["http://x/#join=abc"]).message).toContain("Unknown command (not repeated");
    expect(usageError(["room"]).message).toContain("room create");
    expect(usageError(["room", "delete", "x"]).message).toContain("room create");
    expect(usageError(["init"]).message).toContain("--name NAME is required");
    expect(usageError(["init", "--name"]).message).toContain("missing its value");
    expect(usageError(["init", "--name", "   "]).message).toContain("must not be empty");
    expect(usageError(["init", "--name", "x".repeat(65)]).message).toContain("at most 64 bytes");
    expect(usageError(["init", "--name", "é".repeat(33)]).message).toContain("at most 64 bytes");
    expect(usageError(["init", "--name", "a\u001b[2Jb"]).message).toContain("control characters");
    expect(usageError(["send", "Team"]).message).toContain("Missing argument TEXT...");
    expect(usageError(["send", "Team", ""]).message).toContain("must not be empty");
    expect(usageError(["chat"]).message).toContain("Missing argument ROOM");
    expect(usageError(["chat", "a", "b"]).message).toContain("Too many arguments");
    expect(usageError(["rooms", "--count", "2"]).message).toContain('--count is not an option of "rooms"');
    expect(usageError(["listen", "T", "--count", "0"]).message).toContain("between 1 and");
    expect(usageError(["listen", "T", "--count", "2x"]).message).toContain("whole number");
    expect(usageError(["listen", "T", "--timeout", "soon"]).message).toContain("--timeout must be");
    expect(usageError(["listen", "T", "--timeout=-1"]).message).toContain("--timeout must be");
    expect(usageError(["listen", "T", "--timeout", "0"]).message).toContain("--timeout must be");
    expect(usageError(["rooms", "--bogus"]).message).toContain('Unknown option "--bogus".');
    expect(usageError(["rooms", "--bogus=value"]).message).toContain('Unknown option "--bogus".');
    expect(usageError(["rooms", "-q"]).message).toContain('Unknown option "-q".');
    expect(usageError(["rooms", "--Tr0ub4dor"]).message).toContain("Unknown option (not repeated");
    expect(usageError(["rooms", "--relay", "ftp://x"]).message).toContain("http:// or https://");
    expect(usageError(["rooms", "--relay", "http://user:pw@x"]).message).toContain("without credentials");
    expect(usageError(["rooms", "--relay", "not a url"]).message).toContain("must be a URL");
    expect(usageError(["rooms", "--home", ""]).message).toContain("--home");
    expect(usageError(["help", "nothing"]).message).toContain('Unknown command "nothing".');
  });

  it("never echoes an argument that does not look like a command or option name (it could be a secret pasted by mistake)", () => {
    fc.assert(
      // Secrets are long or carry a digit or capital (links, tokens, passphrases): never echoed.
      fc.property(fc.oneof(fc.stringMatching(/^[a-z]{17,24}$/), fc.stringMatching(/^[a-z]{0,10}[A-Z0-9][A-Za-z0-9]{4,20}$/)), (secret) => {
        for (const argv of [[secret], ["rooms", secret], ["rooms", `--${secret}`], ["rooms", "--relay", secret]]) {
          let message = "";
          try {
            parseCommandLine(argv, ENV);
          } catch (e) {
            message = (e as Error).message;
          }
          expect(message).not.toContain(secret);
        }
      }),
      { numRuns: 50 },
    );
  });

  it("regression (fast-check seed -2074048767): Object.prototype names are not commands", () => {
    for (const name of ["valueOf", "toString", "constructor", "__proto__", "hasOwnProperty"]) {
      expect(usageError([name]).message).toContain("Unknown command");
      expect(usageError(["help", name]).message).toContain("Unknown command");
    }
  });

  it("either parses or throws a usage CliError for any argument list, never anything else", () => {
    const word = fc.oneof(
      fc.constantFrom("init", "room", "create", "join", "chat", "send", "listen", "members", "rooms", "leave", "safety-number", "help"),
      fc.constantFrom("--name", "--count", "--timeout", "--json", "--relay", "--home", "-h", "--include-own", "--", "-x"),
      fc.constantFrom("valueOf", "toString", "__proto__"),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 7 }), (argv) => {
        try {
          const line = parseCommandLine(argv, ENV);
          expect(Object.keys(COMMANDS)).toContain(line.command);
        } catch (e) {
          expect(e).toBeInstanceOf(CliError);
          expect((e as CliError).exitCode).toBe(EXIT_USAGE);
        }
      }),
      { numRuns: 300 },
    );
  });
});
