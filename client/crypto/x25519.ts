/**
 * X25519 key agreement (spec EN-02, RFC 7748) with a native fast path.
 *
 * Owns: the scalar multiplication behind `PrivateKey.agree`, done through WebCrypto's X25519
 * when the runtime has it (Node 20, current browsers; about 30× faster than portable code
 * here, SIGNAL-FACTS "Reference throughput") and through noble otherwise. The native path is
 * detected once, by computing the RFC 7748 §6.1 shared secret and comparing it, so a runtime
 * that computes something else is never used. Both paths reject an all-zero output
 * (SIGNAL-FACTS "Keys and signatures": low-order inputs are rejected).
 * Also owns the native key plumbing that keeps agreement cheap (measured on Node 20 by
 * `npm run bench:crypto`): a PKCS#8 import costs several times an X25519 agreement, while a
 * JWK import that also carries the public half is cheap, so a private key whose public half is
 * known is imported as JWK; key generation through WebCrypto yields both halves and the
 * imported key in one call; imported public keys are reusable across agreements.
 * Does not own: key encodings (curve.ts).
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual, hexToBytes, randomBytes } from "./bytes.js";
import { type NodeCrypto, type NodeKeyObject, plainBytes, selfChecked } from "./node-crypto.js";

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
/** RFC 7748 §6.1: Alice's public key, which the runtime must report for her private key. */
const PROBE_OWN_PUBLIC = hexToBytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");

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

/** base64url without padding (RFC 7515 §2), the JWK encoding of key bytes. */
function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Imports scalar `k` with its claimed public u-coordinate `u` as a JWK (RFC 8037 §2), which
 * runtimes import far faster than PKCS#8. Rejects when the runtime refuses the pair (Node
 * checks that `u` belongs to `k`); agreement only ever uses `k`, so a runtime that skips that
 * check still computes the right secret. Callers fall back to `importX25519PrivateNative`.
 */
export function importX25519PrivateJwk(k: Uint8Array, u: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "X25519", d: base64Url(k), x: base64Url(u) },
    { name: "X25519" },
    false,
    ["deriveBits"],
  );
}

/**
 * Imports scalar `k` as PKCS#8 (extractable) and reads its public u-coordinate back from the
 * runtime: the public half at no extra cost when the key has to be imported anyway.
 */
export async function importX25519PrivateWithPublic(k: Uint8Array): Promise<{ key: CryptoKey; u: Uint8Array }> {
  const key = await globalThis.crypto.subtle.importKey(
    "pkcs8",
    arrayBufferCopy(concatBytes(X25519_PKCS8_PREFIX, k)),
    { name: "X25519" },
    true,
    ["deriveBits"],
  );
  const jwk = await globalThis.crypto.subtle.exportKey("jwk", key);
  if (typeof jwk.x !== "string") throw new TypeError("X25519 JWK export without x");
  const u = fromBase64Url(jwk.x);
  if (u.length !== X25519_LENGTH) throw new TypeError("X25519 JWK export with a bad x");
  return { key, u };
}

/**
 * A fresh X25519 key pair from WebCrypto (the platform CSPRNG, as `crypto.getRandomValues`):
 * the 32-byte scalar, its public u-coordinate and the key ready for agreement, in one native
 * call instead of a portable scalar multiplication plus an import.
 */
export async function generateX25519Native(): Promise<{ k: Uint8Array; u: Uint8Array; key: CryptoKey }> {
  const pair = (await globalThis.crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as CryptoKeyPair;
  const jwk = await globalThis.crypto.subtle.exportKey("jwk", pair.privateKey);
  if (typeof jwk.d !== "string" || typeof jwk.x !== "string") throw new TypeError("X25519 JWK export without d or x");
  const k = fromBase64Url(jwk.d);
  const u = fromBase64Url(jwk.x);
  if (k.length !== X25519_LENGTH || u.length !== X25519_LENGTH) throw new TypeError("X25519 JWK export with bad lengths");
  return { k, u, key: pair.privateKey };
}

/**
 * Imports a peer's u-coordinate as a WebCrypto public key, for `x25519AgreeNativeKey`. A
 * rejected import surfaces there as `ProtocolError("invalid_key")`.
 */
export function importX25519PublicNative(u: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey("raw", arrayBufferCopy(u), { name: "X25519" }, true, []);
}

/**
 * X25519 through WebCrypto with both keys already imported. A failed import or an all-zero
 * output → `ProtocolError("invalid_key")`, exactly as `x25519AgreeNative`.
 */
export async function x25519AgreeNativeKey(privateKey: CryptoKey, publicKey: Promise<CryptoKey>): Promise<Uint8Array> {
  let out: Uint8Array;
  try {
    out = new Uint8Array(
      await globalThis.crypto.subtle.deriveBits({ name: "X25519", public: await publicKey } as never, privateKey, 256),
    );
  } catch {
    throw new ProtocolError("invalid_key");
  }
  if (isAllZero(out)) throw new ProtocolError("invalid_key");
  return out;
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
let jwkCheckDetection: Promise<boolean> | undefined;

/**
 * Whether this runtime's JWK import refuses a private key paired with another key's public
 * half (probed once with the RFC 7748 §6.1 keys: Alice's scalar with Bob's u must be refused,
 * with her own u accepted). Where it does, a successful `importX25519PrivateJwk` proves the
 * claimed public key, so it need not be derived again.
 */
export function jwkImportChecksPublicKey(): Promise<boolean> {
  jwkCheckDetection ??= (async () => {
    try {
      if (!(await hasNativeX25519())) return false;
      await importX25519PrivateJwk(PROBE_PRIVATE, PROBE_OWN_PUBLIC);
    } catch {
      return false;
    }
    try {
      await importX25519PrivateJwk(PROBE_PRIVATE, PROBE_PUBLIC);
      return false;
    } catch {
      return true;
    }
  })();
  return jwkCheckDetection;
}

/**
 * Whether WebCrypto X25519 is usable here; probed once (RFC 7748 §6.1 vector: the shared
 * secret and the public key the runtime reports) and cached.
 */
export function hasNativeX25519(): Promise<boolean> {
  nativeDetection ??= (async () => {
    try {
      if (globalThis.crypto?.subtle === undefined) return false;
      const key = await importX25519PrivateNative(PROBE_PRIVATE);
      const shared = await x25519AgreeNative(key, PROBE_PUBLIC);
      // The public half read back from the runtime (importX25519PrivateWithPublic,
      // generateX25519Native) is used as the key's public key: check it too.
      const { u } = await importX25519PrivateWithPublic(PROBE_PRIVATE);
      return constantTimeEqual(shared, PROBE_SHARED) && constantTimeEqual(u, PROBE_OWN_PUBLIC);
    } catch {
      return false;
    }
  })();
  return nativeDetection;
}

/**
 * JWK `x` given with a private key imported into Node. Node derives the public half from `d`
 * itself (OpenSSL computes it on import) and does not compare it with `x`, so the real public
 * key is read back from the imported key rather than trusted from a record; the self-check
 * below proves this on the RFC 7748 keys with a wrong `x`, so a runtime that compared would
 * refuse the probe and never take this path.
 */
const NODE_JWK_PLACEHOLDER_X = base64Url(new Uint8Array(X25519_LENGTH));

function importPrivateNode(crypto: NodeCrypto, k: Uint8Array): { key: NodeKeyObject; u: Uint8Array } {
  const key = crypto.createPrivateKey({
    key: { kty: "OKP", crv: "X25519", d: base64Url(k), x: NODE_JWK_PLACEHOLDER_X },
    format: "jwk",
  });
  const x = crypto.createPublicKey(key).export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new TypeError("X25519 JWK export without x");
  const u = fromBase64Url(x);
  if (u.length !== X25519_LENGTH) throw new TypeError("X25519 JWK export with a bad x");
  return { key, u };
}

function agreeNode(crypto: NodeCrypto, privateKey: NodeKeyObject, publicKey: NodeKeyObject): Uint8Array {
  let out: Uint8Array;
  try {
    out = plainBytes(crypto.diffieHellman({ privateKey, publicKey }));
  } catch {
    // OpenSSL refuses an all-zero result (a low-order peer key) with an error.
    throw new ProtocolError("invalid_key");
  }
  if (out.length !== X25519_LENGTH || isAllZero(out)) throw new ProtocolError("invalid_key");
  return out;
}

/**
 * Node's synchronous X25519 if this runtime has it and it passes the RFC 7748 §6.1 check
 * (shared secret, the public half read back after an import with a wrong claimed x, a
 * low-order peer refused); else `undefined`. Checked once.
 */
export const nodeX25519: () => NodeCrypto | undefined = selfChecked((crypto) => {
  const { key, u } = importPrivateNode(crypto, PROBE_PRIVATE);
  if (!constantTimeEqual(u, PROBE_OWN_PUBLIC)) return false;
  const shared = agreeNode(crypto, key, importPublicNode(crypto, PROBE_PUBLIC));
  if (!constantTimeEqual(shared, PROBE_SHARED)) return false;
  try {
    agreeNode(crypto, key, importPublicNode(crypto, new Uint8Array(X25519_LENGTH)));
    return false;
  } catch (e) {
    return e instanceof ProtocolError;
  }
});

function importPublicNode(crypto: NodeCrypto, u: Uint8Array): NodeKeyObject {
  return crypto.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: base64Url(u) }, format: "jwk" });
}

function requireNode(): NodeCrypto {
  const crypto = nodeX25519();
  if (crypto === undefined) throw new TypeError("node:crypto X25519 is not available");
  return crypto;
}

/**
 * Imports the (clamped or not; X25519 clamps) scalar `k` into Node and reads its public
 * u-coordinate back: one native scalar multiplication. Only where `nodeX25519()` is defined.
 */
export function importX25519PrivateNode(k: Uint8Array): { key: NodeKeyObject; u: Uint8Array } {
  return importPrivateNode(requireNode(), k);
}

/** Imports a peer's u-coordinate into Node (any 32 bytes; the top bit is masked by X25519). */
export function importX25519PublicNode(u: Uint8Array): NodeKeyObject {
  try {
    return importPublicNode(requireNode(), u);
  } catch {
    throw new ProtocolError("invalid_key");
  }
}

/**
 * X25519 through Node's synchronous call with both keys imported. A low-order peer (OpenSSL
 * refuses the all-zero output) or an all-zero output → `ProtocolError("invalid_key")`.
 */
export function x25519AgreeNode(privateKey: NodeKeyObject, publicKey: NodeKeyObject): Uint8Array {
  return agreeNode(requireNode(), privateKey, publicKey);
}

/**
 * A fresh X25519 key pair made by Node: the scalar from the CSPRNG (EN-10), its u-coordinate
 * and the imported key, in one native scalar multiplication. Not `generateKeyPairSync` and a JWK
 * export of its result: on Node 20 that export can deadlock the process for good when a garbage
 * collection runs during it (the finished key-generation job's destructor takes the mutex the
 * export holds; seen in the rooms benchmark, reproduced in a few thousand calls).
 */
export function generateX25519Node(): { k: Uint8Array; u: Uint8Array; key: NodeKeyObject } {
  const crypto = requireNode();
  const k = randomBytes(X25519_LENGTH);
  const { key, u } = importPrivateNode(crypto, k);
  return { k, u, key };
}
