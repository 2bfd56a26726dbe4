/**
 * The shutdown signal handed to Connect's adapter, built so that each in-flight call can listen
 * to it in constant time.
 *
 * connect-es links every call's context signal to the adapter's `shutdownSignal` with
 * `addEventListener("abort", …)` and unlinks it with `removeEventListener` when the call ends.
 * On Node's `AbortSignal` both walk the list of listeners already registered (to refuse
 * duplicates), so N open Subscribe streams cost O(N²): 40,000 streams blocked the event loop for
 * about 11 s while they opened (relay/hub/PERFORMANCE.md). This signal keeps its listeners in a
 * `Set`, with the same observable behaviour for what Connect uses (`aborted`, `reason`,
 * `addEventListener`, `removeEventListener`); "shutdown fan-out signal" in
 * relay/shutdown-fanout.test.ts pins that behaviour.
 *
 * Owns: listener bookkeeping and dispatch. Does not own: when shutdown happens (relay/server.ts).
 */

type AbortListener = ((this: AbortSignal, event: Event) => void) | { handleEvent(event: Event): void };

interface Registration {
  readonly listener: AbortListener;
  readonly once: boolean;
}

/** A signal with constant-time listener registration, and the function that aborts it. */
export interface ShutdownFanOut {
  /** Pass this where an `AbortSignal` is expected by code that only listens (Connect's adapter). */
  readonly signal: AbortSignal;
  /** Aborts the signal once; later calls do nothing. */
  abort(reason?: unknown): void;
  /** Listeners currently registered (for tests and diagnostics). */
  readonly listenerCount: number;
}

/** Creates a shutdown signal whose listeners are kept in a `Set` (see the module header). */
export function createShutdownFanOut(): ShutdownFanOut {
  const registrations = new Map<AbortListener, Registration>();
  let aborted = false;
  let reason: unknown;

  const target = {
    get aborted(): boolean {
      return aborted;
    },
    get reason(): unknown {
      return reason;
    },
    onabort: null as ((this: AbortSignal, event: Event) => void) | null,
    addEventListener(type: string, listener: AbortListener | null, options?: boolean | AddEventListenerOptions): void {
      if (type !== "abort" || listener === null || aborted) return;
      // Like EventTarget: registering the same listener twice keeps one registration.
      if (registrations.has(listener)) return;
      const once = typeof options === "object" && options.once === true;
      registrations.set(listener, { listener, once });
    },
    removeEventListener(type: string, listener: AbortListener | null): void {
      if (type !== "abort" || listener === null) return;
      registrations.delete(listener);
    },
    throwIfAborted(): void {
      if (aborted) throw reason;
    },
  };
  const signal = target as unknown as AbortSignal;

  return {
    signal,
    get listenerCount() {
      return registrations.size;
    },
    abort(why?: unknown) {
      if (aborted) return;
      aborted = true;
      reason = why ?? new DOMException("This operation was aborted", "AbortError");
      const event = new Event("abort");
      // A listener may remove others (Connect's unlinks itself): iterate over a copy.
      const all = [...registrations.values()];
      registrations.clear();
      target.onabort?.call(signal, event);
      for (const { listener } of all) {
        if (typeof listener === "function") listener.call(signal, event);
        else listener.handleEvent(event);
      }
    },
  };
}
