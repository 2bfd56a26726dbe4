/**
 * Curve25519 keys in Signal's encoding.
 *
 * Owns: `PublicKey` (33 bytes on the wire: 0x05 ‖ u), `PrivateKey` (32 clamped bytes),
 * `KeyPair`, X25519 agreement and XEdDSA signatures on them (spec EN-01, EN-02, EN-03). Agreement and verification use WebCrypto when the runtime has X25519 and
 * Ed25519 (detected once, see x25519.ts / xeddsa.ts) and noble otherwise.
 * Does not own: prekeys and identities (client/keys/), KEM keys (kem.ts).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual, randomBytes } from "./bytes.js";
import { SecretHolder } from "./redact.js";
import { hasNativeX25519, importX25519PrivateNative, x25519AgreeNative, x25519AgreeNoble } from "./x25519.js";
import {
  XEDDSA_RANDOM_LENGTH,
  hasNativeEd25519,
  xeddsaSign,
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
 * A Curve25519 public key. Equality is byte equality of the 33-byte encoding.
 */
export class PublicKey {
  readonly #u: Uint8Array;
  /** Imported WebCrypto Ed25519 keys per sign bit, created on first native verification. */
  readonly #edKeys = new Map<number, Promise<CryptoKey>>();

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
    if (await hasNativeEd25519()) return xeddsaVerifyNative(this.#u, message, signature, this.#edKeys);
    return xeddsaVerifyNoble(this.#u, message, signature);
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
  #publicKey: PublicKey | undefined;
  #signingKey: XeddsaSigningKey | undefined;
  #nativeKey: Promise<CryptoKey> | undefined;

  private constructor(clamped: Uint8Array) {
    super("PrivateKey");
    this.#k = clamped;
  }

  /** A fresh private key from the CSPRNG. */
  static generate(): PrivateKey {
    return new PrivateKey(clampPrivateKey(randomBytes(PRIVATE_KEY_LENGTH)));
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

  /** The 32 clamped bytes (a fresh copy). Secret: store it, never print it. */
  serialize(): Uint8Array {
    return Uint8Array.from(this.#k);
  }

  /** The matching public key (computed once, then cached). */
  getPublicKey(): PublicKey {
    if (this.#publicKey === undefined) {
      // aB on Edwards25519 maps to X25519(k, 9) (RFC 7748 §4.1); the precomputed Edwards base
      // multiplication is much faster than a Montgomery ladder, and signing reuses aB.
      this.#signingKey ??= xeddsaSigningKey(this.#k);
      this.#publicKey = PublicKey.fromPublicBytes(ed25519.utils.toMontgomery(this.#signingKey.aBytes));
    }
    return this.#publicKey;
  }

  /**
   * X25519 with `publicKey`: the 32-byte shared secret. An all-zero result (low-order peer
   * key) → `ProtocolError("invalid_key")` (spec EN-02).
   */
  async agree(publicKey: PublicKey): Promise<Uint8Array> {
    if (await hasNativeX25519()) {
      this.#nativeKey ??= importX25519PrivateNative(this.#k);
      return x25519AgreeNative(await this.#nativeKey, publicKey.publicBytes);
    }
    return x25519AgreeNoble(this.#k, publicKey.publicBytes);
  }

  /** XEdDSA signature (64 bytes, libsignal encoding; spec EN-03) over `message` with fresh random Z (EN-10). */
  sign(message: Uint8Array): Uint8Array {
    this.#signingKey ??= xeddsaSigningKey(this.#k);
    return xeddsaSign(this.#signingKey, message, randomBytes(XEDDSA_RANDOM_LENGTH));
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

  /** The key pair for an existing private key. */
  static fromPrivateKey(privateKey: PrivateKey): KeyPair {
    return new KeyPair(privateKey.getPublicKey(), privateKey);
  }
}
