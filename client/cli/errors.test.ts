// Unit tests of the failure → exit code mapping: every class of failure gets its own code and
// a fixed sentence; raw error text never reaches the user.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PostFailedError } from "../app/securecomm-client.js";
import { ProtocolError } from "../errors.js";
import { FileStoreError } from "../file-store/errors.js";
import { toCliError } from "./errors.js";
import {
  CliError,
  EXIT_BAD_PASSPHRASE,
  EXIT_FAILURE,
  EXIT_NO_IDENTITY,
  EXIT_REFUSED,
  EXIT_RELAY_REFUSED,
  EXIT_RELAY_UNREACHABLE,
  EXIT_STORE,
} from "./exit-codes.js";
import * as codes from "./exit-codes.js";

const SECRET = "s3cr3t-token-7f1e";

describe("toCliError", () => {
  it("a message the outbox gave up on exits 12 with its reason (issue 16)", () => {
    const e = toCliError(new PostFailedError("not-a-member"));
    expect(e.exitCode).toBe(EXIT_RELAY_REFUSED);
    expect(e.message).toBe("Not sent: you are no longer a member of the room.");
  });

  it("gives every exit code a distinct value", () => {
    const values = Object.entries(codes).filter(([k]) => k.startsWith("EXIT_")).map(([, v]) => v);
    expect(new Set(values).size).toBe(values.length);
  });

  it("maps file-store, relay, network and protocol failures to their exit codes", () => {
    const cases: Array<[unknown, number]> = [
      [new FileStoreError("wrong_passphrase"), EXIT_BAD_PASSPHRASE],
      [new FileStoreError("not_found"), EXIT_NO_IDENTITY],
      [new FileStoreError("locked"), EXIT_STORE],
      [new FileStoreError("corrupt"), EXIT_STORE],
      [new ConnectError(SECRET, Code.Unavailable), EXIT_RELAY_UNREACHABLE],
      [new ConnectError(SECRET, Code.PermissionDenied), EXIT_RELAY_REFUSED],
      [new ConnectError(SECRET, Code.Internal), EXIT_RELAY_REFUSED],
      [new TypeError("fetch failed", { cause: Object.assign(new Error(SECRET), { code: "ECONNREFUSED" }) }), EXIT_RELAY_UNREACHABLE],
      [new Error(SECRET, { cause: Object.assign(new Error(SECRET), { code: "ENOTFOUND" }) }), EXIT_RELAY_UNREACHABLE],
      [new ProtocolError("untrusted_identity"), EXIT_REFUSED],
      [new Error(SECRET, { cause: new ProtocolError("bad_mac") }), EXIT_REFUSED],
      [new Error(SECRET), EXIT_FAILURE],
      [SECRET, EXIT_FAILURE],
    ];
    for (const [error, code] of cases) {
      const mapped = toCliError(error);
      expect([String(error), mapped.exitCode]).toEqual([String(error), code]);
      expect(mapped.message).not.toContain(SECRET);
    }
    expect(toCliError(new ProtocolError("untrusted_identity")).message).toContain("/accept");
  });

  it("passes a CliError through unchanged", () => {
    const e = new CliError(42, "x");
    expect(toCliError(e)).toBe(e);
  });
});
