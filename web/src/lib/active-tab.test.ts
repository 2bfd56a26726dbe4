// Tests of the active-tab claim over an in-memory lock manager with the Web Locks semantics
// the module relies on (exclusive locks, ifAvailable, steal, signal). The real browser's
// behaviour is checked end to end in web/e2e/one-active-tab.test.ts.
import { describe, expect, it } from "vitest";
import { ACTIVE_TAB_LOCK, claimActiveTab, CLIENT_OPEN_LOCK, type TabLocks } from "./active-tab.js";

interface Request {
  callback: (lock: Lock | null) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Exclusive Web Locks for one origin: ifAvailable, steal and signal, as the spec describes. */
function createLocks(): TabLocks & { holder(name: string): boolean } {
  const held = new Map<string, Request>();
  const queues = new Map<string, Request[]>();
  const grant = (name: string, r: Request): void => {
    held.set(name, r);
    const lock = { name, mode: "exclusive" } as Lock;
    Promise.resolve(r.callback(lock)).then(
      (v) => {
        if (held.get(name) !== r) return; // stolen meanwhile: already rejected
        held.delete(name);
        r.resolve(v);
        const next = queues.get(name)?.shift();
        if (next !== undefined) grant(name, next);
      },
      (e: unknown) => r.reject(e),
    );
  };
  const request = (name: string, options: LockOptions, callback: (lock: Lock | null) => unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const r: Request = { callback, resolve, reject };
      const holder = held.get(name);
      if (options.steal === true) {
        if (holder !== undefined) holder.reject(new DOMException("stolen", "AbortError"));
        grant(name, r);
      } else if (holder === undefined) {
        grant(name, r);
      } else if (options.ifAvailable === true) {
        Promise.resolve(callback(null)).then(resolve, reject);
      } else {
        const queue = queues.get(name) ?? [];
        queue.push(r);
        queues.set(name, queue);
        options.signal?.addEventListener("abort", () => {
          const at = queue.indexOf(r);
          if (at < 0) return;
          queue.splice(at, 1);
          reject(new DOMException("aborted", "AbortError"));
        });
      }
    });
  return { request: request as TabLocks["request"], holder: (name) => held.has(name) };
}

/** Lets pending promise callbacks (grants, releases) run. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** True when `p` settles once pending callbacks have run. */
const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await flush();
  return done;
};

describe("claimActiveTab", () => {
  it("grants the first tab and refuses a second one without stealing", async () => {
    const locks = createLocks();
    const first = await claimActiveTab(locks, { mode: "if-free" });
    expect(first).toBeDefined();
    expect(locks.holder(ACTIVE_TAB_LOCK) && locks.holder(CLIENT_OPEN_LOCK)).toBe(true);
    expect(await claimActiveTab(locks, { mode: "if-free" })).toBeUndefined();
    expect(await settled(first!.lost)).toBe(false);
  });

  it("hands over on steal only after the previous tab released (closed its store)", async () => {
    const locks = createLocks();
    const first = (await claimActiveTab(locks, { mode: "if-free" }))!;
    const claiming = claimActiveTab(locks, { mode: "steal" });
    expect(await settled(first.lost)).toBe(true);
    // The stealer waits: the first tab still has the client open.
    expect(await settled(claiming)).toBe(false);
    first.release();
    const second = await claiming;
    expect(second).toBeDefined();
    expect(await settled(second!.lost)).toBe(false);
    // Releasing twice does not release the new holder's locks.
    first.release();
    expect(locks.holder(ACTIVE_TAB_LOCK) && locks.holder(CLIENT_OPEN_LOCK)).toBe(true);
  });

  it("gives up a hand-over that a third tab overtook, and leaves no lock behind", async () => {
    const locks = createLocks();
    const first = (await claimActiveTab(locks, { mode: "if-free" }))!;
    const second = claimActiveTab(locks, { mode: "steal" });
    const third = claimActiveTab(locks, { mode: "steal" });
    expect(await second).toBeUndefined();
    first.release();
    const winner = await third;
    expect(winner).toBeDefined();
    winner!.release();
    await flush();
    expect(locks.holder(ACTIVE_TAB_LOCK) || locks.holder(CLIENT_OPEN_LOCK)).toBe(false);
  });

  it("queues behind the running tab and starts once it is gone, unless the wait was given up", async () => {
    const locks = createLocks();
    const first = (await claimActiveTab(locks, { mode: "if-free" }))!;
    const givenUp = new AbortController();
    const abandoned = claimActiveTab(locks, { mode: "wait", signal: givenUp.signal });
    const queued = claimActiveTab(locks, { mode: "wait" });
    givenUp.abort();
    expect(await abandoned).toBeUndefined();
    expect(await settled(queued)).toBe(false);
    first.release(); // the first tab closed
    const next = await queued;
    expect(next).toBeDefined();
    expect(locks.holder(ACTIVE_TAB_LOCK) && locks.holder(CLIENT_OPEN_LOCK)).toBe(true);
  });

  it("reports a lock failure other than an abort, holding nothing", async () => {
    const failing: TabLocks = {
      request: (() => Promise.reject(new DOMException("denied", "SecurityError"))) as TabLocks["request"],
    };
    await expect(claimActiveTab(failing, { mode: "steal" })).rejects.toMatchObject({ name: "SecurityError" });
  });

  it("runs unguarded where the browser has no Web Locks API", async () => {
    for (const missing of [undefined, null]) {
      const lease = await claimActiveTab(missing, { mode: "if-free" });
      expect(lease).toBeDefined();
      expect(await settled(lease!.lost)).toBe(false);
      lease!.release();
    }
  });
});
