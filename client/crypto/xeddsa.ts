/**
 * XEdDSA signatures over Curve25519 keys, in libsignal's encoding (spec EN-03).
 *
 * Owns: signing with a Montgomery private key and verifying against a Montgomery public key
 * (Signal's XEdDSA specification, §2.3 and §2.4), with libsignal's encoding of the Edwards
 * sign bit (SIGNAL-FACTS "Keys and signatures"): the signer does NOT negate its key to force
 * sign bit 0 as the paper does; it stores A's sign bit in bit 7 of `sig[63]` (free because
 * s < 2^253), and the verifier rebuilds A from u with that bit.
 *
 * Verification is an Ed25519 verification against the converted key, so it has two paths that
 * give identical answers (pinned by fast-check property tests): Node's synchronous Ed25519
 * (`crypto.verify`, no thread-pool round trip) on Node, WebCrypto Ed25519 when the runtime has
 * it (each detected once, with RFC 8032 test 2), and noble point arithmetic otherwise.
 * Does not own: key encodings (curve.ts).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { concatBytes, hexToBytes, randomBytes } from "./bytes.js";
import { sha512 } from "./kdf.js";
import { type NodeCrypto, type NodeKeyObject, selfChecked } from "./node-crypto.js";
import { sodiumEd25519Verify } from "./sodium-ed25519.js";

/** XEdDSA signature length: R (32) ‖ s (32). */
export const XEDDSA_SIGNATURE_LENGTH = 64;
/** Length of the random Z fed into the nonce hash (XEdDSA §2.3: 64 bytes). */
export const XEDDSA_RANDOM_LENGTH = 64;

/**
 * Domain-separation prefix of XEdDSA's nonce hash: hash_1 = SHA-512(2^256 − 2 ‖ …), i.e.
 * 0xFE followed by 31 bytes of 0xFF, little-endian (XEdDSA §2.3, §2.5).
 */
const NONCE_HASH_PREFIX = (() => {
  const p = new Uint8Array(32).fill(0xff);
  p[0] = 0xfe;
  return p;
})();

/** Bit 7 of `sig[63]` carries A's Edwards sign bit (libsignal's encoding). */
const SIGN_BIT_MASK = 0x80;
/**
 * A valid s is below 2^253: after the sign bit is cleared, the top three bits of s[31] must be
 * zero (SIGNAL-FACTS; the check libsignal makes).
 */
const S_HIGH_BITS_MASK = 0xe0;

const Point = ed25519.Point;
const Fp = Point.Fp;
const Fn = Point.Fn;

/**
 * Window of the base-point table signing uses. noble precomputes W = 6 (43 additions per
 * multiplication); W = 8 takes 33, about 15 % less signing time here for a table of about
 * 2 MB built once (60 ms) at the first signature (PERFORMANCE.md). Wider windows cost more to
 * scan than they save.
 */
const SIGNING_BASE_WINDOW = 8;
let signingTableReady = false;

/** r·B with the wider table (built on first use); constant-time as noble's default table. */
function baseMultiply(r: bigint): InstanceType<typeof Point> {
  if (!signingTableReady) {
    Point.BASE.precompute(SIGNING_BASE_WINDOW, false);
    signingTableReady = true;
  }
  return Point.BASE.multiply(r);
}

/** The signer's scalar a = k mod L and the encoding of A = aB, computable once per key. */
export interface XeddsaSigningKey {
  readonly k: Uint8Array;
  readonly a: bigint;
  readonly aBytes: Uint8Array;
}

/**
 * Precomputes the signing scalar and Edwards public key for the clamped private key `k`
 * (spec EN-03). `knownA` is A = aB as derived earlier for this same `k` (public-half-cache.ts):
 * it skips the base-point multiplication, the whole cost of this function.
 */
export function xeddsaSigningKey(k: Uint8Array, knownA?: Uint8Array): XeddsaSigningKey {
  if (k.length !== 32) throw new RangeError("xeddsaSign: private key must be 32 bytes");
  const a = Fn.create(bytesToNumberLE(k));
  const aBytes = knownA !== undefined && knownA.length === 32 ? Uint8Array.from(knownA) : baseMultiply(a).toBytes();
  return { k: Uint8Array.from(k), a, aBytes };
}

/**
 * Signs `message` with the 32-byte clamped Montgomery private key `k` (or its precomputed
 * form) using random `z` (64 bytes). Returns R ‖ s with A's sign bit in bit 7 of the last byte
 * (spec EN-03 steps 1-4).
 */
export function xeddsaSign(key: Uint8Array | XeddsaSigningKey, message: Uint8Array, z: Uint8Array): Uint8Array {
  const { k, a, aBytes } = key instanceof Uint8Array ? xeddsaSigningKey(key) : key;
  if (z.length !== XEDDSA_RANDOM_LENGTH) throw new RangeError("xeddsaSign: Z must be 64 bytes");
  const signBit = (aBytes[31] as number) & SIGN_BIT_MASK;
  const r = Fn.create(bytesToNumberLE(sha512(concatBytes(NONCE_HASH_PREFIX, k, message, z))));
  const rBytes = baseMultiply(r).toBytes();
  const h = Fn.create(bytesToNumberLE(sha512(concatBytes(rBytes, aBytes, message))));
  const s = Fn.add(r, Fn.mul(h, a));
  const sig = concatBytes(rBytes, numberToBytesLE(s, 32));
  sig[63] = (sig[63] as number) | signBit;
  return sig;
}

/**
 * The Edwards public key A (32-byte compressed encoding) for Montgomery `u` and `signBit`, as
 * the XEdDSA verifier rebuilds it (XEdDSA §2.4 `convert_mont` with the sign bit given by the
 * signature), or `undefined` when u has no such point (u = −1, or u on the twist).
 */
export function edwardsKeyFromMontgomery(u: Uint8Array, signBit: 0 | 1): Uint8Array | undefined {
  if (u.length !== 32) return undefined;
  // RFC 7748 §5: the top bit of a u-coordinate is masked; the value is then taken mod p.
  const masked = Uint8Array.from(u);
  masked[31] = (masked[31] as number) & 0x7f;
  const uField = Fp.create(bytesToNumberLE(masked));
  const denominator = Fp.add(uField, Fp.ONE);
  if (Fp.is0(denominator)) return undefined;
  // y = (u − 1) / (u + 1), the birational map from Curve25519 to Ed25519 (RFC 7748 §4.1).
  const y = Fp.div(Fp.sub(uField, Fp.ONE), denominator);
  const yBytes = numberToBytesLE(y, 32);
  yBytes[31] = (yBytes[31] as number) | (signBit << 7);
  try {
    // zip215 = true: accept x = 0 with the sign bit set (it decodes to x = 0, as libsignal's
    // decompression does); y is canonical here by construction.
    return Point.fromBytes(yBytes, true).toBytes();
  } catch {
    return undefined;
  }
}

/**
 * u → A conversions by (u, sign bit): the same sender-key, certificate and identity keys verify
 * again and again, and the conversion costs a field inversion and a square root. Public data
 * only; bounded like the key cache below.
 */
const CONVERSION_CACHE_LIMIT = 512;
const conversionCache = new Map<string, Uint8Array | null>();

function convertCached(u: Uint8Array, signBit: 0 | 1): Uint8Array | undefined {
  let id = String(signBit);
  for (const b of u) id += b.toString(16).padStart(2, "0");
  let a = conversionCache.get(id);
  if (a === undefined) {
    a = edwardsKeyFromMontgomery(u, signBit) ?? null;
    if (conversionCache.size >= CONVERSION_CACHE_LIMIT) {
      const oldest = conversionCache.keys().next().value;
      if (oldest !== undefined) conversionCache.delete(oldest);
    }
    conversionCache.set(id, a);
  }
  return a === null ? undefined : a;
}

/** A signature split into what both verification paths need, or `undefined` if malformed. */
interface PreparedSignature {
  readonly aBytes: Uint8Array;
  readonly rBytes: Uint8Array;
  /** s with the sign bit cleared, reduced mod L (same point sB; see `prepare`). */
  readonly sReduced: bigint;
}

function prepare(u: Uint8Array, signature: Uint8Array): PreparedSignature | undefined {
  if (signature.length !== XEDDSA_SIGNATURE_LENGTH) return undefined;
  const last = signature[63] as number;
  const signBit = ((last & SIGN_BIT_MASK) >> 7) as 0 | 1;
  const sBytes = signature.slice(32, 64);
  sBytes[31] = last & ~SIGN_BIT_MASK & 0xff;
  if (((sBytes[31] as number) & S_HIGH_BITS_MASK) !== 0) return undefined;
  const aBytes = convertCached(u, signBit);
  if (aBytes === undefined) return undefined;
  // B has order L, so sB = (s mod L)B: reducing changes no verification outcome and lets a
  // strict Ed25519 verifier (which requires s < L) do the work.
  return { aBytes, rBytes: signature.slice(0, 32), sReduced: Fn.create(bytesToNumberLE(sBytes)) };
}

/**
 * XEdDSA verification through noble: rebuild A, then check that the encoding of sB − hA equals
 * R byte for byte (the cofactorless check libsignal makes). Never throws on bad input.
 */
export function xeddsaVerifyNoble(u: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const p = prepare(u, signature);
    if (p === undefined) return false;
    const A = Point.fromBytes(p.aBytes, true);
    const h = Fn.create(bytesToNumberLE(sha512(concatBytes(p.rBytes, p.aBytes, message))));
    const sB = p.sReduced === 0n ? Point.ZERO : Point.BASE.multiply(p.sReduced);
    const check = sB.subtract(A.multiplyUnsafe(h)).toBytes();
    let diff = 0;
    for (let i = 0; i < 32; i++) diff |= (check[i] as number) ^ (p.rBytes[i] as number);
    return diff === 0;
  } catch {
    return false;
  }
}

/**
 * Imported WebCrypto keys by Edwards encoding, shared by all PublicKey objects: sender-key and
 * certificate keys are re-parsed from records for every message, and importing is a large part
 * of a native verification. Public data only. Bounded so hostile input cannot grow it.
 */
const IMPORTED_KEY_CACHE_LIMIT = 512;
const importedKeyCache = new Map<string, Promise<CryptoKey>>();

function cachedImport(aBytes: Uint8Array): Promise<CryptoKey> {
  let hex = "";
  for (const b of aBytes) hex += b.toString(16).padStart(2, "0");
  let key = importedKeyCache.get(hex);
  if (key === undefined) {
    key = importEd25519Public(aBytes);
    if (importedKeyCache.size >= IMPORTED_KEY_CACHE_LIMIT) {
      const oldest = importedKeyCache.keys().next().value;
      if (oldest !== undefined) importedKeyCache.delete(oldest);
    }
    importedKeyCache.set(hex, key);
  }
  return key;
}

/**
 * XEdDSA verification through WebCrypto Ed25519 against the rebuilt A. `importedKeys` caches
 * the imported key per sign bit for a given u (the caller owns that cache); without it a
 * bounded module-wide cache is used. Never throws on bad input; resolves false.
 */
export async function xeddsaVerifyNative(
  u: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  importedKeys?: Map<number, Promise<CryptoKey>>,
): Promise<boolean> {
  try {
    const p = prepare(u, signature);
    if (p === undefined) return false;
    const signBit = ((signature[63] as number) & SIGN_BIT_MASK) >> 7;
    let key = importedKeys?.get(signBit);
    if (key === undefined) {
      key = cachedImport(p.aBytes);
      importedKeys?.set(signBit, key);
    }
    const sig = concatBytes(p.rBytes, numberToBytesLE(p.sReduced, 32));
    return await globalThis.crypto.subtle.verify({ name: "Ed25519" }, await key, new Uint8Array(sig), new Uint8Array(message));
  } catch {
    return false;
  }
}

function importEd25519Public(aBytes: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey("raw", new Uint8Array(aBytes), { name: "Ed25519" }, true, ["verify"]);
}

/** RFC 8032 §7.1 TEST 2: public key, one-byte message 0x72 and its signature. */
const PROBE_PUBLIC = hexToBytes("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
const PROBE_MESSAGE = hexToBytes("72");
const PROBE_SIGNATURE = hexToBytes(
  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
);

let nativeDetection: Promise<boolean> | undefined;

/**
 * Whether WebCrypto Ed25519 verification is usable here: probed once with RFC 8032 TEST 2 (it
 * must accept it and reject a one-bit change) and cached.
 */
export function hasNativeEd25519(): Promise<boolean> {
  nativeDetection ??= (async () => {
    try {
      if (globalThis.crypto?.subtle === undefined) return false;
      const key = await importEd25519Public(PROBE_PUBLIC);
      const good = await globalThis.crypto.subtle.verify({ name: "Ed25519" }, key, new Uint8Array(PROBE_SIGNATURE), new Uint8Array(PROBE_MESSAGE));
      const flipped = new Uint8Array(PROBE_MESSAGE);
      flipped[0] = (flipped[0] as number) ^ 1;
      const bad = await globalThis.crypto.subtle.verify({ name: "Ed25519" }, key, new Uint8Array(PROBE_SIGNATURE), flipped);
      return good && !bad;
    } catch {
      return false;
    }
  })();
  return nativeDetection;
}

/** Imported Node Ed25519 keys by Edwards encoding (public data only), bounded like the above. */
const nodeKeyCache = new Map<string, NodeKeyObject>();

function nodeEd25519Key(crypto: NodeCrypto, aBytes: Uint8Array): NodeKeyObject {
  let hex = "";
  for (const b of aBytes) hex += b.toString(16).padStart(2, "0");
  let key = nodeKeyCache.get(hex);
  if (key === undefined) {
    key = importEd25519Node(crypto, aBytes);
    if (nodeKeyCache.size >= IMPORTED_KEY_CACHE_LIMIT) {
      const oldest = nodeKeyCache.keys().next().value;
      if (oldest !== undefined) nodeKeyCache.delete(oldest);
    }
    nodeKeyCache.set(hex, key);
  }
  return key;
}

function importEd25519Node(crypto: NodeCrypto, aBytes: Uint8Array): NodeKeyObject {
  return crypto.createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(aBytes).toString("base64url") },
    format: "jwk",
  });
}

/**
 * Node's synchronous Ed25519 verification if this runtime has it and it accepts RFC 8032 TEST 2
 * and rejects a one-bit change of it; else `undefined`. Checked once.
 */
export const nodeEd25519: () => NodeCrypto | undefined = selfChecked((crypto) => {
  const key = importEd25519Node(crypto, PROBE_PUBLIC);
  const flipped = Uint8Array.from(PROBE_MESSAGE);
  flipped[0] = (flipped[0] as number) ^ 1;
  return crypto.verify(null, PROBE_MESSAGE, key, PROBE_SIGNATURE) && !crypto.verify(null, flipped, key, PROBE_SIGNATURE);
});

/**
 * XEdDSA verification through Node's synchronous Ed25519 against the rebuilt A (same checks
 * as `xeddsaVerifyNative`). Never throws on bad input; returns false. Only where
 * `nodeEd25519()` is defined (false otherwise).
 */
export function xeddsaVerifyNode(u: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const crypto = nodeEd25519();
  if (crypto === undefined) return false;
  try {
    const p = prepare(u, signature);
    if (p === undefined) return false;
    const sig = concatBytes(p.rBytes, numberToBytesLE(p.sReduced, 32));
    if (sodiumAccepts(sig, message, p.aBytes)) return true;
    return crypto.verify(null, message, nodeEd25519Key(crypto, p.aBytes), sig);
  } catch {
    return false;
  }
}

/**
 * Node Ed25519 keys for one Montgomery u, per sign bit (index 0 and 1): the Edwards key A
 * rebuilt from u with that bit and imported, `null` when u has no such point, `undefined`
 * until first needed. Owned by the caller for one fixed u (a `PublicKey` object, whose u never
 * changes), so a verification after the first costs no conversion, no import and no lookup.
 */
export type NodeVerifyKeys = [NodeVerifyKey | null | undefined, NodeVerifyKey | null | undefined];

/** One rebuilt Edwards key A: its encoding (for libsodium) and, once OpenSSL needed it, its import. */
export interface NodeVerifyKey {
  readonly aBytes: Uint8Array;
  node?: NodeKeyObject;
}

/**
 * Whether libsodium accepts an Ed25519 signature (A, message, s < L), where Node has it
 * (sodium-ed25519.ts). Only a yes is final: libsodium refuses a superset of what OpenSSL
 * refuses (small-order and non-canonical points too), so every refusal is asked of OpenSSL,
 * and the outcome is OpenSSL's whether or not libsodium is there.
 */
function sodiumAccepts(signature: Uint8Array, message: Uint8Array, aBytes: Uint8Array): boolean {
  const verify = sodiumEd25519Verify();
  return verify !== undefined && verify(signature, message, aBytes);
}

/** Group order L as 32 little-endian bytes (RFC 8032 §5.1). */
const ORDER_BYTES = numberToBytesLE(Fn.ORDER, 32);

/** Whether the little-endian s at `bytes[32..64]` is below L (s is public: no constant time needed). */
function belowOrder(bytes: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = bytes[32 + i] as number;
    const l = ORDER_BYTES[i] as number;
    if (s !== l) return s < l;
  }
  return false;
}

/**
 * `xeddsaVerifyNode` with the imported keys of this u kept in `keys` (see `NodeVerifyKeys`):
 * the same checks in the same terms — 64 bytes, s < 2^253 after the sign bit is cleared, A
 * rebuilt from u and the sign bit, s reduced mod L (only when it is not already below L, which
 * every honest signer's s is) — then one native verification. Never throws; returns false.
 * Only where `nodeEd25519()` is defined (false otherwise).
 */
export function xeddsaVerifyNodeKeys(u: Uint8Array, message: Uint8Array, signature: Uint8Array, keys: NodeVerifyKeys): boolean {
  const crypto = nodeEd25519();
  if (crypto === undefined) return false;
  try {
    if (signature.length !== XEDDSA_SIGNATURE_LENGTH) return false;
    const last = signature[63] as number;
    const signBit = (last & SIGN_BIT_MASK) >> 7;
    const sLast = last & ~SIGN_BIT_MASK & 0xff;
    if ((sLast & S_HIGH_BITS_MASK) !== 0) return false;
    let key = keys[signBit];
    if (key === undefined) {
      const aBytes = convertCached(u, signBit as 0 | 1);
      key = aBytes === undefined ? null : { aBytes };
      keys[signBit] = key;
    }
    if (key === null) return false;
    const sig = new Uint8Array(signature); // a copy, also of a Buffer
    sig[63] = sLast;
    // B has order L, so sB = (s mod L)B: reducing changes no outcome (see `prepare`).
    if (!belowOrder(sig)) sig.set(numberToBytesLE(Fn.create(bytesToNumberLE(sig.subarray(32))), 32), 32);
    if (sodiumAccepts(sig, message, key.aBytes)) return true;
    key.node ??= importEd25519Node(crypto, key.aBytes);
    return crypto.verify(null, message, key.node, sig);
  } catch {
    return false;
  }
}

/**
 * A signing key made as an RFC 8032 Ed25519 key by Node (spec EN-03, "signing keys generated
 * as Ed25519 keys"): the Montgomery private key k = clamp(SHA-512(seed)[0..32]) — an ordinary
 * clamped X25519 scalar, stored like any other — with A = k·B and its u-coordinate, and the
 * native key that signs with it.
 */
export interface Ed25519GeneratedKey {
  readonly k: Uint8Array;
  readonly u: Uint8Array;
  readonly aBytes: Uint8Array;
  readonly signer: NodeKeyObject;
}

/** Length of an RFC 8032 Ed25519 seed (the private key as Node and RFC 8032 hold it). */
export const ED25519_SEED_LENGTH = 32;

/**
 * JWK `x` given with a seed imported into Node: Node derives A from `d` itself and does not
 * compare it with `x` (as for X25519, x25519.ts), and A is read back from the imported key.
 */
const ED25519_JWK_PLACEHOLDER_X = "A".repeat(43); // base64url of 32 zero bytes (a literal: no Buffer in browsers)

/**
 * The signing key of the RFC 8032 seed `seed`, imported into Node. Not `generateKeyPairSync`
 * and a JWK export of its result: on Node 20 that export can deadlock the process for good when
 * a garbage collection runs during it (the finished key-generation job's destructor takes the
 * mutex the export holds); importing a seed drawn from the CSPRNG makes no such job.
 */
function ed25519KeyFromSeed(crypto: NodeCrypto, seed: Uint8Array): Ed25519GeneratedKey {
  if (seed.length !== ED25519_SEED_LENGTH) throw new RangeError("Ed25519 seed must be 32 bytes");
  const signer = crypto.createPrivateKey({
    key: { kty: "OKP", crv: "Ed25519", d: Buffer.from(seed).toString("base64url"), x: ED25519_JWK_PLACEHOLDER_X },
    format: "jwk",
  });
  const x = crypto.createPublicKey(signer).export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new TypeError("Ed25519 JWK export without x");
  const aBytes = Uint8Array.from(Buffer.from(x, "base64url"));
  if (aBytes.length !== 32) throw new TypeError("Ed25519 JWK export with a bad x");
  // RFC 8032 §5.1.5: the secret scalar is the pruned (clamped) first half of SHA-512(seed).
  return { k: ed25519ScalarFromSeed(seed), u: ed25519.utils.toMontgomery(aBytes), aBytes, signer };
}

function generateEd25519Key(crypto: NodeCrypto): Ed25519GeneratedKey {
  const seed = randomBytes(ED25519_SEED_LENGTH);
  try {
    return ed25519KeyFromSeed(crypto, seed);
  } finally {
    seed.fill(0);
  }
}

/** RFC 8032 signature by `key` with A's sign bit moved into bit 7 of byte 63 (EN-03 step 4). */
function signEd25519Generated(crypto: NodeCrypto, key: Ed25519GeneratedKey, message: Uint8Array): Uint8Array {
  const sig = new Uint8Array(crypto.sign(null, message, key.signer));
  if (sig.length !== XEDDSA_SIGNATURE_LENGTH || ((sig[63] as number) & S_HIGH_BITS_MASK) !== 0) throw new TypeError("Ed25519 signature out of range");
  sig[63] = (sig[63] as number) | ((key.aBytes[31] as number) & SIGN_BIT_MASK);
  return sig;
}

/**
 * Node's Ed25519 signing, if present and self-checked: a generated key's k derives the same A
 * through noble, and its signatures verify as XEdDSA (noble path) and fail on another message.
 */
const nodeEd25519Signing = selfChecked((crypto) => {
  const key = generateEd25519Key(crypto);
  const derivedA = baseMultiply(Fn.create(bytesToNumberLE(key.k))).toBytes();
  const sig = signEd25519Generated(crypto, key, PROBE_MESSAGE);
  return (
    derivedA.every((b, i) => b === key.aBytes[i]) &&
    xeddsaVerifyNoble(key.u, PROBE_MESSAGE, sig) &&
    !xeddsaVerifyNoble(key.u, new Uint8Array(0), sig)
  );
});

/** The Montgomery private key of an RFC 8032 seed: k = clamp(SHA-512(seed)[0..32]) (EN-03). */
export function ed25519ScalarFromSeed(seed: Uint8Array): Uint8Array {
  if (seed.length !== ED25519_SEED_LENGTH) throw new RangeError("Ed25519 seed must be 32 bytes");
  const k = sha512(seed).slice(0, 32);
  k[0] = (k[0] as number) & 248;
  k[31] = ((k[31] as number) & 127) | 64;
  return k;
}

/**
 * The native signer of a stored RFC 8032 seed (an identity key made from one, EN-03), where
 * Node can sign Ed25519 natively (self-checked), else undefined.
 */
export function ed25519SignerFromSeed(seed: Uint8Array): Ed25519GeneratedKey | undefined {
  const crypto = nodeEd25519Signing();
  return crypto === undefined ? undefined : ed25519KeyFromSeed(crypto, seed);
}

/** A fresh signing key generated as an Ed25519 key where Node can sign natively, else undefined. */
export function generateEd25519SigningKey(): Ed25519GeneratedKey | undefined {
  const crypto = nodeEd25519Signing();
  return crypto === undefined ? undefined : generateEd25519Key(crypto);
}

/**
 * Signs `message` natively with a key from `generateEd25519SigningKey` (RFC 8032 nonce, see
 * EN-03); the result verifies under u exactly as an XEdDSA signature does.
 */
export function signWithEd25519GeneratedKey(key: Ed25519GeneratedKey, message: Uint8Array): Uint8Array {
  const crypto = nodeEd25519Signing();
  if (crypto === undefined) throw new TypeError("node:crypto Ed25519 signing is not available");
  return signEd25519Generated(crypto, key, message);
}
