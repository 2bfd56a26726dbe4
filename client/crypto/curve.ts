/**
 * Curve25519 keys in Signal's encoding.
 *
 * Owns: `PublicKey` (33 bytes on the wire: 0x05 ‖ u), `PrivateKey` (32 clamped bytes),
 * `KeyPair`, X25519 agreement and XEdDSA signatures on them (spec EN-01, EN-02, EN-03).
 * Agreement and verification use WebCrypto when the runtime has X25519 and Ed25519 (detected
 * once, see x25519.ts / xeddsa.ts) and noble otherwise. Hot-path economies, all giving the
 * same bytes as the portable path (property tests in key-fast-paths.test.ts): a key's public
 * half is derived once per process (public-half-cache.ts); a private key is imported into
 * WebCrypto once per object, as a cheap JWK when its public half is known or claimed by its
 * record; a public key is imported once per object; `generateAsync` makes a key pair natively
 * in one call, and a generated ratchet key's native key is handed to its next parse.
 * On Node, the synchronous `node:crypto` path (x25519.ts, xeddsa.ts) comes before WebCrypto,
 * with the same economies (one import per object, handover of generated keys); a PublicKey
 * keeps its imported Ed25519 verification keys per sign bit, so verifying again under the same
 * object (a sender key's, remembered per record) is one native call.
 * Does not own: prekeys and identities (client/keys/), KEM keys (kem.ts).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual, randomBytes } from "./bytes.js";
import { SecretHolder } from "./redact.js";
import { lookupPublicHalf, publicHalfId, rememberPublicHalf } from "./public-half-cache.js";
import type { NodeKeyObject } from "./node-crypto.js";
import {
  generateX25519Native,
  generateX25519Node,
  hasNativeX25519,
  importX25519PrivateNode,
  importX25519PublicNode,
  nodeX25519,
  x25519AgreeNode,
  importX25519PrivateJwk,
  importX25519PrivateWithPublic,
  importX25519PublicNative,
  jwkImportChecksPublicKey,
  x25519AgreeNativeKey,
  x25519AgreeNoble,
} from "./x25519.js";
import {
  XEDDSA_RANDOM_LENGTH,
  type Ed25519GeneratedKey,
  ED25519_SEED_LENGTH,
  ed25519ScalarFromSeed,
  ed25519SignerFromSeed,
  generateEd25519SigningKey,
  hasNativeEd25519,
  nodeEd25519,
  signWithEd25519GeneratedKey,
  xeddsaSign,
  type NodeVerifyKeys,
  xeddsaVerifyNodeKeys,
  xeddsaSigningKey,
  xeddsaVerifyNative,
  type XeddsaSigningKey,
  xeddsaVerifyNoble,
} from "./xeddsa.js";

/** Key-type byte that prefixes a serialized Curve25519 public key (libsignal's DJB type). */
export const KEY_TYPE_DJB = 0x05;
/** Serialized public key length: type byte + 32-byte u-coordinate. */
export const PUBLIC_KEY_LENGTH = 33;
/** Private key (scalar) length. */
export const PRIVATE_KEY_LENGTH = 32;

/** Clamps a 32-byte X25519 scalar (spec EN-01; RFC 7748 §5 decodeScalar25519), returning a copy. */
export function clampPrivateKey(bytes: Uint8Array): Uint8Array {
  const k = Uint8Array.from(bytes);
  k[0] = (k[0] as number) & 248;
  k[31] = ((k[31] as number) & 127) | 64;
  return k;
}

/**
 * Native keys of generated ratchet keys, waiting for the next parse of the same private key
 * (`generateAsync({ reloaded: true })`). A ratchet key is generated while decrypting, stored in
 * the session state, and parsed again for one agreement at the next DH step: handing the
 * native key over saves that import. Keyed by the public-half id (a hash of the private key),
 * taken (deleted) on first use, and bounded: the secret is held no longer than the session
 * state holding the same key, and an evicted entry only means an import.
 */
const handedOverKeys = new Map<string, { key: CryptoKey | NodeKeyObject; u: Uint8Array }>();

function handOver(id: string, key: CryptoKey | NodeKeyObject, u: Uint8Array): void {
  handedOverKeys.set(id, { key, u });
  if (handedOverKeys.size > HANDED_OVER_KEY_LIMIT) {
    const oldest = handedOverKeys.keys().next().value;
    if (oldest !== undefined) handedOverKeys.delete(oldest);
  }
}

/** Pending handovers kept: sessions awaiting their next DH step; more fall back to an import. */
const HANDED_OVER_KEY_LIMIT = 64;

/** Options of `PrivateKey.generateAsync`. */
export interface GenerateOptions {
  /**
   * The key will be stored (in a ratchet state) and parsed again for its next agreement: keep
   * its native key for that parse (see `handedOverKeys`).
   */
  readonly reloaded?: boolean;
}

/**
 * Native signers of the signing keys this process generated as Ed25519 keys
 * (`PrivateKey.generateSigningKey`), by public-half id. Such a key is stored as its 32-byte
 * Montgomery scalar like any other; only this process can sign with it natively, since the
 * RFC 8032 seed behind it is not stored. Bounded: a sender key per room this device sends in;
 * an evicted or restarted key signs with XEdDSA instead (the same key, valid either way).
 */
const ed25519Signers = new Map<string, Ed25519GeneratedKey>();

/** Native signers kept (own sender keys in use at once). */
const ED25519_SIGNER_LIMIT = 32;

/** Imported WebCrypto X25519 public keys per PublicKey object (one import per object). */
const importedX25519Public = new WeakMap<PublicKey, Promise<CryptoKey>>();

/** Imported Node X25519 public keys per PublicKey object (one import per object). */
const nodeX25519Public = new WeakMap<PublicKey, NodeKeyObject>();

function nodePublic(key: PublicKey): NodeKeyObject {
  let imported = nodeX25519Public.get(key);
  if (imported === undefined) {
    imported = importX25519PublicNode(key.publicBytes);
    nodeX25519Public.set(key, imported);
  }
  return imported;
}

function nativePublic(key: PublicKey): Promise<CryptoKey> {
  let imported = importedX25519Public.get(key);
  if (imported === undefined) {
    imported = importX25519PublicNative(key.publicBytes);
    // A rejected import is reported by the agreement that awaits it (as invalid_key).
    imported.catch(() => undefined);
    importedX25519Public.set(key, imported);
  }
  return imported;
}

/**
 * A Curve25519 public key. Equality is byte equality of the 33-byte encoding.
 */
export class PublicKey {
  readonly #u: Uint8Array;
  /** Imported WebCrypto Ed25519 keys per sign bit, created on first native verification. */
  readonly #edKeys = new Map<number, Promise<CryptoKey>>();
  /** Imported Node Ed25519 keys per sign bit, created on first Node verification. */
  readonly #nodeEdKeys: NodeVerifyKeys = [undefined, undefined];

  private constructor(u: Uint8Array) {
    this.#u = u;
  }

  /**
   * Parses a 33-byte serialized key (0x05 ‖ u; spec EN-01). Any other length or type byte →
   * `ProtocolError("invalid_key")`.
   */
  static deserialize(bytes: Uint8Array): PublicKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== PUBLIC_KEY_LENGTH || bytes[0] !== KEY_TYPE_DJB) {
      throw new ProtocolError("invalid_key");
    }
    return new PublicKey(bytes.slice(1));
  }

  /** Builds a key from a raw 32-byte u-coordinate (RangeError on another length: misuse). */
  static fromPublicBytes(u: Uint8Array): PublicKey {
    if (u.length !== 32) throw new RangeError("PublicKey.fromPublicBytes: need 32 bytes");
    return new PublicKey(Uint8Array.from(u));
  }

  /** The 33-byte wire encoding 0x05 ‖ u (a fresh copy). */
  serialize(): Uint8Array {
    return concatBytes(Uint8Array.of(KEY_TYPE_DJB), this.#u);
  }

  /** The raw 32-byte u-coordinate (a fresh copy). */
  get publicBytes(): Uint8Array {
    return Uint8Array.from(this.#u);
  }

  /** True when both keys have the same encoding (constant-time). */
  equals(other: PublicKey): boolean {
    return constantTimeEqual(this.#u, other.#u);
  }

  /**
   * Verifies an XEdDSA signature in libsignal's encoding over `message` (spec EN-03). Resolves false for any
   * bad or malformed signature; never rejects.
   */
  async verifySignature(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (nodeEd25519() !== undefined) return xeddsaVerifyNodeKeys(this.#u, message, signature, this.#nodeEdKeys);
    if (await hasNativeEd25519()) return xeddsaVerifyNative(this.#u, message, signature, this.#edKeys);
    return xeddsaVerifyNoble(this.#u, message, signature);
  }

  /**
   * `verifySignature`'s answer computed synchronously where the runtime verifies synchronously
   * (Node's `node:crypto`), else `undefined` (then await `verifySignature`). For hot paths that
   * should not pay a promise per message.
   */
  verifySignatureNow(message: Uint8Array, signature: Uint8Array): boolean | undefined {
    if (nodeEd25519() !== undefined) return xeddsaVerifyNodeKeys(this.#u, message, signature, this.#nodeEdKeys);
    return undefined;
  }

  /** Public keys are not secret, but print compactly rather than as a byte dump. */
  toString(): string {
    return "[PublicKey]";
  }
}

/**
 * A Curve25519 private key: 32 clamped bytes. Prints as a redacted tag.
 */
export class PrivateKey extends SecretHolder {
  readonly #k: Uint8Array;
  #halfId: string | undefined;
  #publicKey: PublicKey | undefined;
  #signingKey: XeddsaSigningKey | undefined;
  #nativeKey: Promise<CryptoKey> | undefined;
  #nodeKey: NodeKeyObject | undefined;
  /** A public key a record claims for this key: only picks the cheap native import, never trusted. */
  #claimedU: Uint8Array | undefined;
  /** The RFC 8032 seed this key was made from (`fromEd25519Seed`; EN-03), if it was. Secret. */
  #seed: Uint8Array | undefined;
  /** The seed's native signer, imported at the first signature where the runtime has one. */
  #seedSigner: Ed25519GeneratedKey | undefined;

  private constructor(clamped: Uint8Array) {
    super("PrivateKey");
    this.#k = clamped;
  }

  /** A fresh private key from the CSPRNG. */
  static generate(): PrivateKey {
    return new PrivateKey(clampPrivateKey(randomBytes(PRIVATE_KEY_LENGTH)));
  }

  /**
   * A fresh private key from the platform CSPRNG (spec EN-01), made by WebCrypto when the
   * runtime has X25519: the public half and the imported key come with it, so the key's first
   * agreement and `getPublicKey()` cost no scalar multiplication. Falls back to `generate()`.
   */
  static async generateAsync(options: GenerateOptions = {}): Promise<PrivateKey> {
    if (nodeX25519() !== undefined) {
      const { k, u, key } = generateX25519Node();
      const privateKey = new PrivateKey(clampPrivateKey(k));
      privateKey.#publicKey = PublicKey.fromPublicBytes(u);
      privateKey.#nodeKey = key;
      if (options.reloaded === true) handOver(privateKey.#id(), key, u);
      return privateKey;
    }
    if (await hasNativeX25519()) {
      try {
        const { k, u, key } = await generateX25519Native();
        // X25519 clamps the scalar itself, so the native key and its u are those of clamp(k).
        const privateKey = new PrivateKey(clampPrivateKey(k));
        privateKey.#publicKey = PublicKey.fromPublicBytes(u);
        privateKey.#nativeKey = Promise.resolve(key);
        if (options.reloaded === true) handOver(privateKey.#id(), key, u);
        return privateKey;
      } catch {
        // A runtime that probes fine but cannot generate or export: portable path.
      }
    }
    return PrivateKey.generate();
  }

  /**
   * The key of an RFC 8032 seed (spec EN-03, "signing keys generated as Ed25519 keys"): k =
   * clamp(SHA-512(seed)[0..32]), an ordinary X25519 private key that also agrees, whose holder
   * signs natively where the runtime signs Ed25519 (an identity key: ID-01), else with XEdDSA.
   * A seed of another length → `ProtocolError("invalid_key")`.
   */
  static fromEd25519Seed(seed: Uint8Array): PrivateKey {
    if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_LENGTH) throw new ProtocolError("invalid_key");
    const key = new PrivateKey(ed25519ScalarFromSeed(seed));
    key.#seed = Uint8Array.from(seed);
    return key;
  }

  /** A fresh key made from a fresh RFC 8032 seed from the CSPRNG (EN-10; see `fromEd25519Seed`). */
  static generateFromEd25519Seed(): PrivateKey {
    const seed = randomBytes(ED25519_SEED_LENGTH);
    try {
      return PrivateKey.fromEd25519Seed(seed);
    } finally {
      seed.fill(0);
    }
  }

  /** The RFC 8032 seed this key was made from (a fresh copy), or undefined. Secret: store it, never print it. */
  get ed25519Seed(): Uint8Array | undefined {
    return this.#seed === undefined ? undefined : Uint8Array.from(this.#seed);
  }

  /** The seed's native signer, if this key has a seed and the runtime signs Ed25519 natively. */
  #seededSigner(): Ed25519GeneratedKey | undefined {
    if (this.#seed === undefined) return undefined;
    if (this.#seedSigner === undefined) {
      const signer = ed25519SignerFromSeed(this.#seed);
      // The runtime derived A from the seed; it must be this key's (k from the same seed).
      if (signer === undefined || !constantTimeEqual(signer.k, this.#k)) return undefined;
      rememberPublicHalf(this.#id(), { u: signer.u, a: signer.aBytes });
      this.#seedSigner = signer;
    }
    return this.#seedSigner;
  }

  /**
   * Parses 32 bytes, clamping them (as libsignal does). Another length →
   * `ProtocolError("invalid_key")`.
   */
  static deserialize(bytes: Uint8Array): PrivateKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== PRIVATE_KEY_LENGTH) {
      throw new ProtocolError("invalid_key");
    }
    return new PrivateKey(clampPrivateKey(bytes));
  }

  /**
   * `deserialize(bytes)` for a private key stored beside the 33-byte public key it should have
   * (a ratchet state, a prekey record; spec EN-01). The claim is never trusted as such: it lets
   * the first agreement import the key as a cheap JWK, and only where the runtime is known to
   * refuse a mismatched pair (`jwkImportChecksPublicKey`) does that import also settle the
   * public key; on refusal the key is imported without the claim. Otherwise `getPublicKey()`
   * derives or looks up the real one. Agreement only ever uses the private key.
   */
  static deserializeWithClaimedPublicKey(bytes: Uint8Array, claimedPublicKey: Uint8Array): PrivateKey {
    const key = PrivateKey.deserialize(bytes);
    if (claimedPublicKey.length === PUBLIC_KEY_LENGTH && claimedPublicKey[0] === KEY_TYPE_DJB) {
      key.#claimedU = claimedPublicKey.slice(1);
    }
    return key;
  }

  /** The 32 clamped bytes (a fresh copy). Secret: store it, never print it. */
  serialize(): Uint8Array {
    return Uint8Array.from(this.#k);
  }

  #id(): string {
    this.#halfId ??= publicHalfId(this.#k);
    return this.#halfId;
  }

  /** The public key if this object or the process already knows it (no derivation). */
  #knownPublicKey(): PublicKey | undefined {
    if (this.#publicKey === undefined) {
      const u = lookupPublicHalf(this.#id())?.u;
      if (u !== undefined) this.#publicKey = PublicKey.fromPublicBytes(u);
    }
    return this.#publicKey;
  }

  #signing(): XeddsaSigningKey {
    if (this.#signingKey === undefined) {
      const knownA = lookupPublicHalf(this.#id())?.a;
      this.#signingKey = xeddsaSigningKey(this.#k, knownA);
      if (knownA === undefined) rememberPublicHalf(this.#id(), { a: this.#signingKey.aBytes });
    }
    return this.#signingKey;
  }

  /** The matching public key (derived once per key per process, then cached). */
  getPublicKey(): PublicKey {
    const known = this.#knownPublicKey();
    if (known !== undefined) return known;
    if (nodeX25519() !== undefined) {
      // One native scalar multiplication; the import is then reused by `agree`.
      this.#node();
      if (this.#publicKey !== undefined) {
        rememberPublicHalf(this.#id(), { u: this.#publicKey.publicBytes });
        return this.#publicKey;
      }
    }
    // aB on Edwards25519 maps to X25519(k, 9) (RFC 7748 §4.1); the precomputed Edwards base
    // multiplication is much faster than a Montgomery ladder, and signing reuses aB.
    const u = ed25519.utils.toMontgomery(this.#signing().aBytes);
    rememberPublicHalf(this.#id(), { u });
    this.#publicKey = PublicKey.fromPublicBytes(u);
    return this.#publicKey;
  }

  /**
   * The matching public key, derived through WebCrypto when the runtime has X25519 (the import
   * is then reused by `agree`), else as `getPublicKey()`. Same result either way.
   */
  async getPublicKeyAsync(): Promise<PublicKey> {
    const known = this.#knownPublicKey();
    if (known !== undefined) return known;
    if (nodeX25519() !== undefined) return this.getPublicKey();
    if (await hasNativeX25519()) {
      await this.#native();
      if (this.#publicKey !== undefined) return this.#publicKey;
    }
    return this.getPublicKey();
  }

  /** The key imported into Node (once per object; a handed-over generated key when there is one). */
  #node(): NodeKeyObject {
    if (this.#nodeKey === undefined) {
      const id = this.#id();
      const handed = handedOverKeys.get(id);
      if (handed !== undefined && !(handed.key instanceof CryptoKey)) {
        handedOverKeys.delete(id);
        this.#publicKey ??= PublicKey.fromPublicBytes(handed.u);
        this.#nodeKey = handed.key;
      } else {
        const { key, u } = importX25519PrivateNode(this.#k);
        this.#publicKey ??= PublicKey.fromPublicBytes(u);
        this.#nodeKey = key;
      }
    }
    return this.#nodeKey;
  }

  #native(): Promise<CryptoKey> {
    this.#nativeKey ??= this.#importNative();
    return this.#nativeKey;
  }

  async #importNative(): Promise<CryptoKey> {
    const handed = handedOverKeys.get(this.#id());
    if (handed !== undefined && handed.key instanceof CryptoKey) {
      handedOverKeys.delete(this.#id());
      this.#publicKey ??= PublicKey.fromPublicBytes(handed.u);
      return handed.key;
    }
    const known = this.#knownPublicKey();
    const u = known?.publicBytes ?? this.#claimedU;
    if (u !== undefined) {
      try {
        const key = await importX25519PrivateJwk(this.#k, u);
        // A runtime that checks the pair has just proven the claim (canonical u only).
        if (known === undefined && ((u[31] as number) & 0x80) === 0 && (await jwkImportChecksPublicKey())) {
          this.#publicKey ??= PublicKey.fromPublicBytes(u);
        }
        return key;
      } catch {
        // The claimed public key is not this key's (a corrupt record): import without it.
      }
    }
    // PKCS#8 import is the slow one; read the public half back so it is not derived again for
    // this object. Not put in the process-wide cache: most keys imported here are one-time
    // ratchet keys, which would only push out long-lived entries.
    const { key, u: derived } = await importX25519PrivateWithPublic(this.#k);
    this.#publicKey ??= PublicKey.fromPublicBytes(derived);
    return key;
  }

  /**
   * X25519 with `publicKey`: the 32-byte shared secret. An all-zero result (low-order peer
   * key) → `ProtocolError("invalid_key")` (spec EN-02).
   */
  async agree(publicKey: PublicKey): Promise<Uint8Array> {
    if (nodeX25519() !== undefined) return x25519AgreeNode(this.#node(), nodePublic(publicKey));
    if (await hasNativeX25519()) {
      const privateKey = await this.#native();
      return x25519AgreeNativeKey(privateKey, nativePublic(publicKey));
    }
    return x25519AgreeNoble(this.#k, publicKey.publicBytes);
  }

  /**
   * A fresh key for signing only (a sender key's signing key; spec EN-03, EN-10): where the
   * runtime signs Ed25519 natively, generated as an RFC 8032 key whose clamped scalar is this
   * private key, so `sign` can use the native signer in this process; otherwise `generate()`.
   * Never use it for agreement.
   */
  static generateSigningKey(): PrivateKey {
    const generated = generateEd25519SigningKey();
    if (generated === undefined) return PrivateKey.generate();
    const key = new PrivateKey(Uint8Array.from(generated.k));
    const id = key.#id();
    rememberPublicHalf(id, { u: generated.u, a: generated.aBytes });
    ed25519Signers.set(id, generated);
    if (ed25519Signers.size > ED25519_SIGNER_LIMIT) {
      const oldest = ed25519Signers.keys().next().value;
      if (oldest !== undefined) ed25519Signers.delete(oldest);
    }
    return key;
  }

  /**
   * Signature (64 bytes, libsignal encoding; spec EN-03) over `message`: XEdDSA with fresh
   * random Z (EN-10), or for a key made from a seed (`fromEd25519Seed`) or from
   * `generateSigningKey` still known to this process, the native RFC 8032 signature, which
   * verifies identically.
   */
  sign(message: Uint8Array): Uint8Array {
    const native = this.#seededSigner() ?? ed25519Signers.get(this.#id());
    if (native !== undefined) {
      try {
        return signWithEd25519GeneratedKey(native, message);
      } catch {
        // Node signing became unavailable (tests turn it off): sign with XEdDSA.
      }
    }
    return xeddsaSign(this.#signing(), message, randomBytes(XEDDSA_RANDOM_LENGTH));
  }
}

/** A Curve25519 key pair. Prints as a redacted tag because it holds the private key. */
export class KeyPair extends SecretHolder {
  /** The public half. */
  readonly publicKey: PublicKey;
  /** The private half. */
  readonly privateKey: PrivateKey;

  constructor(publicKey: PublicKey, privateKey: PrivateKey) {
    super("KeyPair");
    this.publicKey = publicKey;
    this.privateKey = privateKey;
  }

  /** A fresh key pair from the CSPRNG. */
  static generate(): KeyPair {
    return KeyPair.fromPrivateKey(PrivateKey.generate());
  }

  /** A fresh key pair, made natively where possible (see `PrivateKey.generateAsync`; spec EN-01). */
  static async generateAsync(): Promise<KeyPair> {
    const privateKey = await PrivateKey.generateAsync();
    return new KeyPair(await privateKey.getPublicKeyAsync(), privateKey);
  }

  /** The key pair for an existing private key. */
  static fromPrivateKey(privateKey: PrivateKey): KeyPair {
    return new KeyPair(privateKey.getPublicKey(), privateKey);
  }
}
