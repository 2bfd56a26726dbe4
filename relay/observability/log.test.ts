import { describe, expect, it } from "vitest";
import { createLogger, isLogLevel } from "./log.js";

describe("relay logger", () => {
  it("writes one JSON object per line with level, message and scalar fields", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", sink: (l) => lines.push(l), now: () => 0 });
    log.info("relay opened", { method: "GetRelayInfo", n: 3, ok: true });
    expect(JSON.parse(lines[0]!)).toEqual({ t: "1970-01-01T00:00:00.000Z", level: "info", msg: "relay opened", method: "GetRelayInfo", n: 3, ok: true });
  });

  it("filters by level; silent logs nothing", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", sink: (l) => lines.push(l) });
    log.debug("a");
    log.info("b");
    log.warn("c");
    log.error("d");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["c", "d"]);
    const silent = createLogger({ level: "silent", sink: (l) => lines.push(l) });
    silent.error("e");
    expect(lines.length).toBe(2);
  });

  it("drops binary and object fields, so key bytes can never be printed by accident", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "debug", sink: (l) => lines.push(l) });
    const key = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    log.info("x", { key: key as unknown as string, obj: { a: 1 } as unknown as string, ok: "fine" });
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "x", ok: "fine" });
    expect(lines[0]).not.toMatch(/key|obj|222|dead/i);
  });

  it("child loggers add fields; reserved keys cannot be overridden", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", sink: (l) => lines.push(l) }).child({ component: "hub", level: "debug" });
    log.info("y", { msg: "spoof" });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", msg: "y", component: "hub" });
  });

  it("rejects unknown levels", () => {
    expect(isLogLevel("trace")).toBe(false);
    expect(() => createLogger({ level: "trace" as never })).toThrow(RangeError);
  });
});
