import { describe, expect, it, vi } from "vitest";
import { createShutdownFanOut } from "./shutdown-fanout.js";

describe("shutdown fan-out signal", () => {
  it("calls every listener once on abort, with the signal as `this` and its reason readable", () => {
    const fan = createShutdownFanOut();
    const seen: unknown[] = [];
    const fn = function (this: AbortSignal) {
      seen.push(this.reason);
    };
    const obj = { handleEvent: vi.fn() };
    fan.signal.addEventListener("abort", fn);
    fan.signal.addEventListener("abort", fn); // a duplicate registers once, as on EventTarget
    fan.signal.addEventListener("abort", obj);
    expect(fan.listenerCount).toBe(2);
    expect(fan.signal.aborted).toBe(false);
    const why = new Error("shutting down");
    fan.abort(why);
    fan.abort(new Error("again")); // a second abort does nothing
    expect(fan.signal.aborted).toBe(true);
    expect(fan.signal.reason).toBe(why);
    expect(seen).toEqual([why]);
    expect(obj.handleEvent).toHaveBeenCalledTimes(1);
    expect(fan.listenerCount).toBe(0);
  });

  it("forgets removed listeners, including ones removed by another listener during dispatch", () => {
    const fan = createShutdownFanOut();
    const removed = vi.fn();
    const kept = vi.fn();
    fan.signal.addEventListener("abort", removed);
    fan.signal.removeEventListener("abort", removed);
    fan.signal.addEventListener("abort", kept);
    expect(fan.listenerCount).toBe(1);
    fan.abort();
    expect(removed).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
    expect((fan.signal.reason as DOMException).name).toBe("AbortError");
  });

  it("links Connect-style: a linked controller aborts with the shutdown reason and unlinks itself", () => {
    // The pattern connect-es uses for each call (createLinkedAbortController).
    const fan = createShutdownFanOut();
    const calls = Array.from({ length: 1000 }, () => {
      const controller = new AbortController();
      const onAbort = function (this: AbortSignal) {
        controller.abort(this.reason);
        fan.signal.removeEventListener("abort", onAbort);
      };
      fan.signal.addEventListener("abort", onAbort);
      return { controller, unlink: () => fan.signal.removeEventListener("abort", onAbort) };
    });
    // Half the calls finish before shutdown and unlink.
    for (const c of calls.slice(0, 500)) c.unlink();
    expect(fan.listenerCount).toBe(500);
    const why = new Error("shutdown");
    fan.abort(why);
    expect(calls.slice(0, 500).every((c) => !c.controller.signal.aborted)).toBe(true);
    expect(calls.slice(500).every((c) => c.controller.signal.reason === why)).toBe(true);
  });

  it("ignores registrations after abort and other event types", () => {
    const fan = createShutdownFanOut();
    const late = vi.fn();
    fan.signal.addEventListener("other" as "abort", late);
    expect(fan.listenerCount).toBe(0);
    fan.abort();
    fan.signal.addEventListener("abort", late);
    expect(fan.listenerCount).toBe(0);
    expect(() => fan.signal.throwIfAborted()).toThrow();
  });
});
