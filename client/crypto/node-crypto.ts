/**
 * The runtime's own `node:crypto`, when there is one (spec EN-02, EN-03, EN-07, EN-08).
 *
 * Owns: finding Node's crypto module without importing it, so the same client code bundles for
 * browsers unchanged: `process.getBuiltinModule` (Node ≥ 20.16) hands it over where it exists,
 * and in a browser there is no `process`, so every caller takes its portable (noble) or
 * WebCrypto path. Also owns the one-time self-check helper the fast paths use: a fast path is
 * taken only after it computed a known answer right (see x25519.ts, xeddsa.ts, kdf.ts,
 * cipher.ts).
 * Why: Node's synchronous calls run OpenSSL on the calling thread. WebCrypto's promise API
 * costs a thread-pool round trip per call, several times the work itself for the 32-byte
 * agreements and 256-byte messages of the protocol (figures in PERFORMANCE.md).
 * Does not own: any algorithm or encoding.
 */
import type * as NodeCryptoModule from "node:crypto";

/** Node's crypto module type (type only: nothing is imported at run time). */
export type NodeCrypto = typeof NodeCryptoModule;
/** An imported key in Node (X25519 or Ed25519 here). */
export type NodeKeyObject = NodeCryptoModule.KeyObject;

/** Name under which Node hands out its crypto module. */
const NODE_CRYPTO_MODULE = "node:crypto";

let found: NodeCrypto | null | undefined;
/** False while a test runs the portable and WebCrypto paths on Node (`useNodeCrypto`). */
let enabled = true;

/**
 * Turns the Node fast paths off (false) or back on, so tests on Node can also run the paths a
 * browser takes through the same public API. Never called by product code.
 */
export function useNodeCrypto(on: boolean): void {
  enabled = on;
}

/** `node:crypto` where the runtime is Node, else `undefined` (browsers, other runtimes). */
export function nodeCrypto(): NodeCrypto | undefined {
  if (!enabled) return undefined;
  if (found === undefined) {
    found = null;
    try {
      const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
      const module = runtime?.getBuiltinModule?.(NODE_CRYPTO_MODULE) as NodeCrypto | undefined;
      if (module !== undefined && typeof module.createHmac === "function") found = module;
    } catch {
      found = null;
    }
  }
  return found ?? undefined;
}

/**
 * Runs `check` once with Node's crypto module and remembers whether it passed: false without
 * Node, when the check returns false, or when it throws. A fast path guarded by it is never
 * used on a runtime that computes something else.
 */
export function selfChecked(check: (crypto: NodeCrypto) => boolean): () => NodeCrypto | undefined {
  let verdict: NodeCrypto | null | undefined;
  return () => {
    if (!enabled) return undefined;
    if (verdict === undefined) {
      const crypto = nodeCrypto();
      try {
        verdict = crypto !== undefined && check(crypto) ? crypto : null;
      } catch {
        verdict = null;
      }
    }
    return verdict ?? undefined;
  };
}

/** A Node Buffer (or any view) as a plain Uint8Array copy, so callers never hold pooled memory. */
export function plainBytes(view: ArrayBufferView | ArrayBuffer): Uint8Array {
  if (view instanceof ArrayBuffer) return new Uint8Array(view);
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}
