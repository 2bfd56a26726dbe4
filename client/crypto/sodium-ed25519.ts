/**
 * libsodium's Ed25519 verification through the `sodium-native` addon, where the runtime is
 * Node and the addon is installed (spec EN-03; issue 14).
 *
 * Owns: finding the addon without importing it (so the same client code bundles for browsers
 * unchanged: there is no `process` there, and nothing names the package to a bundler), and
 * the one-time known-answer check a fast path needs before it is taken (RFC 8032 TEST 1
 * accepted, a one-bit change of its signature refused).
 * Why: Node 20's OpenSSL 3.0 verifies an Ed25519 signature in about twice libsodium's time on
 * the same machine (figures in PERFORMANCE.md), and every received room message is verified.
 * libsodium is stricter than OpenSSL (it also refuses small-order and non-canonical points), so
 * callers use it only to say yes: a signature it refuses is handed to OpenSSL, whose answer
 * stands (xeddsa.ts `ed25519VerifyNode`), and the outcome is OpenSSL's in every case.
 * Does not own: XEdDSA (xeddsa.ts), keys, any signing. Only public data passes through it.
 */
import { hexToBytes } from "./bytes.js";
import { nodeCrypto } from "./node-crypto.js";

/** libsodium's detached verification: true when `signature` is valid for `message` under `publicKey` (RFC 8032 A). */
export type Ed25519Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

/** The package that binds libsodium for Node (an optional dependency). */
const SODIUM_PACKAGE = "sodium-native";

/** RFC 8032 §7.1 TEST 1: public key, empty message, signature. */
const TEST1_PUBLIC = hexToBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const TEST1_SIGNATURE = hexToBytes(
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
);

interface SodiumNative {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

type Runtime = { getBuiltinModule?: (id: string) => unknown };

let found: Ed25519Verify | null | undefined;

/** Loads the addon by name beside this module; undefined when absent or not Node. */
function load(): SodiumNative | undefined {
  const runtime = (globalThis as { process?: Runtime }).process;
  const module = runtime?.getBuiltinModule?.("node:module") as { createRequire?: (from: string) => (id: string) => unknown } | undefined;
  if (module?.createRequire === undefined) return undefined;
  const sodium = module.createRequire(import.meta.url)(SODIUM_PACKAGE) as Partial<SodiumNative> | undefined;
  return typeof sodium?.crypto_sign_verify_detached === "function" ? (sodium as SodiumNative) : undefined;
}

/**
 * libsodium's Ed25519 verification where Node has the addon and it passed its known-answer
 * check, else `undefined` (browsers, no addon, a wrong answer, or `useNodeCrypto(false)` in a
 * test). Loaded and checked once.
 */
export function sodiumEd25519Verify(): Ed25519Verify | undefined {
  if (nodeCrypto() === undefined) return undefined;
  if (found === undefined) {
    found = null;
    try {
      const sodium = load();
      if (sodium !== undefined) {
        const flipped = Uint8Array.from(TEST1_SIGNATURE);
        flipped[0] = (flipped[0] as number) ^ 1;
        const empty = new Uint8Array(0);
        if (sodium.crypto_sign_verify_detached(TEST1_SIGNATURE, empty, TEST1_PUBLIC) && !sodium.crypto_sign_verify_detached(flipped, empty, TEST1_PUBLIC)) {
          found = (signature, message, publicKey) => sodium.crypto_sign_verify_detached(signature, message, publicKey);
        }
      }
    } catch {
      found = null;
    }
  }
  return found ?? undefined;
}
