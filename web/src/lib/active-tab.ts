/**
 * One active tab per browser profile, with the Web Locks API (DESIGN.md §6, issue 6).
 *
 * Every tab of a profile shares one IndexedDB database: identity, sessions, sender keys and
 * room state. Two tabs running the client at once would both run the Subscribe loop and both
 * advance the same ratchets, so sessions diverge and messages fail to decrypt. Only the tab
 * holding {@link ACTIVE_TAB_LOCK} may run the client; "Use here" in another tab steals it.
 *
 * Owns: the two lock names and the claim/steal/hand-over protocol. Does not own: the client
 * (net/), what the notice says (views/other-tab-view.tsx), or start-up order (main.tsx).
 */

/**
 * Held for the page's lifetime by the tab that runs the client; stolen by "Use here". The
 * browser releases it when the tab closes or crashes, so a dead tab never blocks the profile.
 */
export const ACTIVE_TAB_LOCK = "securecomm-active-tab";

/**
 * Held while a tab has the client (and its IndexedDB store) open. A tab that stole
 * {@link ACTIVE_TAB_LOCK} waits for this one, so it opens the store only after the previous
 * tab stopped its Subscribe loop and closed the store: no moment with two writers.
 */
export const CLIENT_OPEN_LOCK = "securecomm-client-open";

/** The part of `navigator.locks` used here, so tests can pass their own. */
export type TabLocks = Pick<LockManager, "request">;

/** The right to run the client in this tab (see {@link claimActiveTab}). */
export interface ActiveTabLease {
  /**
   * Settles once another tab took over. The holder must then stop the client, close the
   * store and call {@link ActiveTabLease.release}; never rejects.
   */
  readonly lost: Promise<void>;
  /** Releases both locks; call after the client is closed. Idempotent. */
  release(): void;
}

/** A lease that is never lost: where the browser has no Web Locks API. */
const UNGUARDED_LEASE: ActiveTabLease = { lost: new Promise<void>(() => undefined), release: () => undefined };

/** How {@link claimActiveTab} asks: only if free, by taking over ("Use here"), or by queueing. */
export type ClaimMode = "if-free" | "steal" | "wait";

/** Options of {@link claimActiveTab}. */
export interface ClaimOptions {
  /**
   * "if-free": resolves undefined at once when another tab runs the client. "steal": takes
   * over from that tab ("Use here") and waits until it has closed its store. "wait": queues
   * until the lock is free (the other tab closed, or a reload released it), then the same.
   */
  mode: ClaimMode;
  /** Gives up the claim (resolves undefined), e.g. a "wait" when the user presses "Use here". */
  signal?: AbortSignal;
}

/**
 * Claims the right to run the client in this tab (see {@link ClaimOptions} for the modes).
 * Resolves undefined when the lock is taken ("if-free"), when yet another tab took over while
 * this one waited for the previous holder to close, or when `signal` aborted.
 *
 * Where `locks` is missing (an old browser, or a page served over plain HTTP from a non-local
 * address, which is not a secure context) this falls back to running unguarded: the app
 * stays usable, and two tabs are then the user's risk as before.
 */
export async function claimActiveTab(locks: TabLocks | undefined | null, options: ClaimOptions): Promise<ActiveTabLease | undefined> {
  if (locks === undefined || locks === null) return options.signal?.aborted === true ? undefined : UNGUARDED_LEASE;
  const activeOptions: LockOptions =
    options.mode === "steal" ? { steal: true } : options.mode === "if-free" ? { ifAvailable: true } : options.signal ? { signal: options.signal } : {};
  const active = await holdLock(locks, ACTIVE_TAB_LOCK, activeOptions).catch(undefinedIfAborted);
  if (active === undefined) return undefined;
  const abandon = new AbortController();
  void active.lost.then(() => abandon.abort());
  options.signal?.addEventListener("abort", () => abandon.abort(), { once: true });
  const open = await holdLock(locks, CLIENT_OPEN_LOCK, { signal: abandon.signal }).catch((error: unknown) => {
    active.release();
    return undefinedIfAborted(error);
  });
  if (open === undefined || options.signal?.aborted === true) {
    open?.release();
    active.release();
    return undefined;
  }
  let released = false;
  return {
    lost: active.lost,
    release() {
      if (released) return;
      released = true;
      open.release();
      active.release();
    },
  };
}

/** An aborted request (given up, or overtaken) means "not granted"; anything else is a failure. */
function undefinedIfAborted(error: unknown): undefined {
  if (error instanceof DOMException && error.name === "AbortError") return undefined;
  throw error;
}

/** A granted lock, held until {@link HeldLock.release}, or until stolen ({@link HeldLock.lost}). */
interface HeldLock {
  readonly lost: Promise<void>;
  release(): void;
}

/**
 * Requests `name` and keeps it until released. Resolves undefined when `ifAvailable` found it
 * taken; rejects when the request was aborted before it was granted.
 */
function holdLock(locks: TabLocks, name: string, options: LockOptions): Promise<HeldLock | undefined> {
  return new Promise<HeldLock | undefined>((resolve, reject) => {
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    let markLost = (): void => undefined;
    const lost = new Promise<void>((r) => (markLost = r));
    let granted = false;
    locks
      .request(name, options, (lock) => {
        if (lock === null) {
          resolve(undefined);
          return undefined;
        }
        granted = true;
        resolve({ lost, release });
        return held;
      })
      .then(
        // Released by us (or not granted): nothing was lost.
        () => undefined,
        // A granted lock's request rejects (AbortError) when another tab steals it.
        (error: unknown) => (granted ? markLost() : reject(error)),
      );
  });
}
