/**
 * Serialising session operations per store.
 *
 * Owns: `withStoreLock`, which runs async operations on one protocol store one after another.
 * Store methods are async, so without it two decryptions for one peer could both load the same
 * record and one would overwrite the other (reusing or losing message keys), and two PreKey
 * messages could both consume one one-time prekey before either removed it (spec DR-13, PX-09,
 * PX-11). One lock per store (rather than per address) also covers prekeys shared by all peers.
 * Does not own: locking across processes or tabs (a persistent store must add its own).
 */

const tails = new WeakMap<object, Promise<unknown>>();

/** Runs `operation` after every operation queued earlier on `store`; resolves to its result. */
export function withStoreLock<T>(store: object, operation: () => Promise<T>): Promise<T> {
  const previous = tails.get(store) ?? Promise.resolve();
  const result = previous.then(operation, operation);
  tails.set(
    store,
    result.then(
      () => undefined,
      () => undefined,
    ),
  );
  return result;
}
