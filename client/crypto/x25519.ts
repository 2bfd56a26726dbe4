/**
 * X25519 key agreement (spec EN-02, RFC 7748) with a native fast path.
 *
 * Owns: the scalar multiplication behind `PrivateKey.agree`, done through WebCrypto's X25519
 * when the runtime has it (Node 20, current browsers; about 30× faster than portable code
 * here, SIGNAL-FACTS "Reference throughput") and through noble otherwise. The native path is
 * detected once, by computing the RFC 7748 §6.1 shared secret and comparing it, so a runtime
 * that computes something else is never used. Both paths reject an all-zero output
 * (SIGNAL-FACTS "Keys and signatures": low-order inputs are rejected).
 * Does not own: key encodings (curve.ts).
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual, hexToBytes } from "./bytes.js";

/** X25519 scalar, u-coordinate and output length (RFC 7748 §5). */
export const X25519_LENGTH = 32;

/**
 * PKCS#8 wrapper for a raw X25519 private key (RFC 8410 §7): SEQUENCE { version 0,
 * AlgorithmIdentifier { id-X25519 1.3.101.110 }, OCTET STRING { OCTET STRING k } }.
 * WebCrypto imports X25519 private keys only as PKCS#8 or JWK.
 */
const X25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

/** RFC 7748 §6.1: Alice's private key, Bob's public key and their shared secret. */
const PROBE_PRIVATE = hexToBytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
const PROBE_PUBLIC = hexToBytes("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
const PROBE_SHARED = hexToBytes("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

function arrayBufferCopy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

/** Imports a (clamped or not; X25519 clamps) 32-byte scalar as a WebCrypto private key. */
export function importX25519PrivateNative(k: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey(
    "pkcs8",
    arrayBufferCopy(concatBytes(X25519_PKCS8_PREFIX, k)),
    { name: "X25519" },
    false,
    ["deriveBits"],
  );
}

/**
 * X25519 through WebCrypto with an already imported private key. All-zero output (the peer
 * sent a low-order point; WebCrypto reports it as a failure) → `ProtocolError("invalid_key")`.
 */
export async function x25519AgreeNative(privateKey: CryptoKey, u: Uint8Array): Promise<Uint8Array> {
  let out: Uint8Array;
  try {
    const pub = await globalThis.crypto.subtle.importKey("raw", arrayBufferCopy(u), { name: "X25519" }, true, []);
    out = new Uint8Array(
      await globalThis.crypto.subtle.deriveBits({ name: "X25519", public: pub } as never, privateKey, 256),
    );
  } catch {
    throw new ProtocolError("invalid_key");
  }
  if (isAllZero(out)) throw new ProtocolError("invalid_key");
  return out;
}

/** X25519 through noble. All-zero output → `ProtocolError("invalid_key")`. */
export function x25519AgreeNoble(k: Uint8Array, u: Uint8Array): Uint8Array {
  let out: Uint8Array;
  try {
    out = x25519.getSharedSecret(k, u);
  } catch {
    throw new ProtocolError("invalid_key");
  }
  if (isAllZero(out)) throw new ProtocolError("invalid_key");
  return out;
}

function isAllZero(bytes: Uint8Array): boolean {
  return constantTimeEqual(bytes, new Uint8Array(bytes.length));
}

let nativeDetection: Promise<boolean> | undefined;

/**
 * Whether WebCrypto X25519 is usable here; probed once (RFC 7748 §6.1 vector) and cached.
 */
export function hasNativeX25519(): Promise<boolean> {
  nativeDetection ??= (async () => {
    try {
      if (globalThis.crypto?.subtle === undefined) return false;
      const key = await importX25519PrivateNative(PROBE_PRIVATE);
      const shared = await x25519AgreeNative(key, PROBE_PUBLIC);
      return constantTimeEqual(shared, PROBE_SHARED);
    } catch {
      return false;
    }
  })();
  return nativeDetection;
}
