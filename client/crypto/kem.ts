/**
 * Kyber1024 (round 3) key encapsulation, libsignal's KEM key type 0x08, built on noble's
 * ML-KEM-1024 (spec EN-09).
 *
 * Owns: KEM key pairs and their serialized forms (type byte ‖ raw key), encapsulation and
 * decapsulation. Kyber round 3 and ML-KEM share key formats and the inner IND-CPA scheme; they
 * differ only in how the message randomness is hashed in and how the final key is derived
 * (SIGNAL-FACTS "Keys and signatures"):
 *   encapsulate: m random; ML-KEM.Encaps_internal with coins SHA3-256(m) → (c, K');
 *                shared secret = SHAKE256(K' ‖ SHA3-256(c), 32)
 *   decapsulate: ML-KEM.Decaps → K'; same final step.
 * (On an invalid ciphertext the implicit-rejection values differ between the two schemes; both
 * are pseudo-random, so the session simply fails its MAC.)
 * Two implementations of ML-KEM-1024, same bytes (tested against each other): where the runtime
 * has native SHA-3 (Node), our FIPS 203 core (mlkem-core.ts) on it, with the expanded matrix Â
 * of a decapsulation key kept in a bounded cache (mlkem-matrix-cache.ts: a last-resort key
 * decapsulates many times); elsewhere noble's ML-KEM-1024, the portable path.
 * Does not own: PQXDH (client/handshake/), prekey records (client/keys/).
 */
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { sha3_256, shake256 } from "@noble/hashes/sha3.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual, randomBytes } from "./bytes.js";
import { decapsInternal, encapsInternal, keygenInternal, ML_KEM_1024 } from "./mlkem-core.js";
import { type MlKemHash, nativeMlKemHash } from "./mlkem-hash.js";
import { cachedMatrix } from "./mlkem-matrix-cache.js";
import { SecretHolder } from "./redact.js";

/** libsignal's key-type byte for Kyber1024 round 3 (0x0A, ML-KEM-1024, is rejected by 0.103). */
export const KEM_KEY_TYPE_KYBER1024 = 0x08;
/** Raw Kyber1024 public key length (FIPS 203 Table 3, k = 4: 384·k + 32). */
export const KYBER1024_PUBLIC_KEY_RAW_LENGTH = 1568;
/** Raw Kyber1024 secret key length (768·k + 96). */
export const KYBER1024_SECRET_KEY_RAW_LENGTH = 3168;
/** Raw Kyber1024 ciphertext length (32·(du·k + dv) with du = 11, dv = 5). */
export const KYBER1024_CIPHERTEXT_RAW_LENGTH = 1568;
/** Serialized public key: type byte + raw key. */
export const KEM_PUBLIC_KEY_LENGTH = 1 + KYBER1024_PUBLIC_KEY_RAW_LENGTH;
/** Serialized secret key: type byte + raw key. */
export const KEM_SECRET_KEY_LENGTH = 1 + KYBER1024_SECRET_KEY_RAW_LENGTH;
/** Serialized ciphertext: type byte + raw ciphertext (libsignal prefixes ciphertexts too). */
export const KEM_CIPHERTEXT_LENGTH = 1 + KYBER1024_CIPHERTEXT_RAW_LENGTH;
/** Shared-secret length. */
export const KEM_SHARED_SECRET_LENGTH = 32;
/** Length of the random message m that Kyber hashes into the encapsulation coins. */
const KYBER_MESSAGE_LENGTH = 32;

function kyberFinalKey(hash: MlKemHash | undefined, kPrime: Uint8Array, rawCiphertext: Uint8Array): Uint8Array {
  if (hash !== undefined) return Uint8Array.from(hash.shake256(KEM_SHARED_SECRET_LENGTH, kPrime, hash.h(rawCiphertext)));
  return shake256(concatBytes(kPrime, sha3_256(rawCiphertext)), { dkLen: KEM_SHARED_SECRET_LENGTH });
}

/** ML-KEM-1024 encapsulation with randomness `coins`: the core on native SHA-3, else noble. */
function mlKemEncapsulate(hash: MlKemHash | undefined, ek: Uint8Array, coins: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  if (hash === undefined) return ml_kem1024.encapsulate(ek, coins);
  const res = encapsInternal(hash, ML_KEM_1024, ek, coins);
  if (res === undefined) throw new ProtocolError("invalid_key");
  return { cipherText: res.ciphertext, sharedSecret: res.sharedSecret };
}

/** ML-KEM-1024 decapsulation (implicit rejection): the core on native SHA-3, else noble. */
function mlKemDecapsulate(hash: MlKemHash | undefined, c: Uint8Array, dk: Uint8Array): Uint8Array {
  if (hash === undefined) return ml_kem1024.decapsulate(c, dk);
  const k = decapsInternal(hash, ML_KEM_1024, dk, c, cachedMatrix);
  if (k === undefined) throw new ProtocolError("invalid_key");
  return k;
}

/** ML-KEM-1024 key generation from d ‖ z: the core on native SHA-3, else noble. */
function mlKemKeygen(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const hash = nativeMlKemHash();
  if (hash === undefined) return ml_kem1024.keygen(seed);
  const keys = keygenInternal(hash, ML_KEM_1024, seed.subarray(0, 32), seed.subarray(32, 64));
  return { publicKey: keys.encapsulationKey, secretKey: keys.decapsulationKey };
}

function parseTyped(bytes: Uint8Array, length: number): Uint8Array | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length || bytes[0] !== KEM_KEY_TYPE_KYBER1024) {
    return undefined;
  }
  return bytes.slice(1);
}

/** Result of `KemPublicKey.encapsulate`. */
export interface KemEncapsulation {
  /** The 32-byte shared secret (secret: never print it). */
  readonly sharedSecret: Uint8Array;
  /** The serialized ciphertext, 0x08 ‖ 1568 bytes. */
  readonly ciphertext: Uint8Array;
}

/** A Kyber1024 public key (serialized as 0x08 ‖ 1568 bytes). */
export class KemPublicKey {
  readonly #raw: Uint8Array;

  private constructor(raw: Uint8Array) {
    this.#raw = raw;
  }

  /**
   * Parses 0x08 ‖ 1568 bytes. Another length or type byte → `ProtocolError("invalid_key")`.
   * (Coefficient ranges are checked at encapsulation, as ML-KEM requires.)
   */
  static deserialize(bytes: Uint8Array): KemPublicKey {
    const raw = parseTyped(bytes, KEM_PUBLIC_KEY_LENGTH);
    if (raw === undefined) throw new ProtocolError("invalid_key");
    return new KemPublicKey(raw);
  }

  /** 0x08 ‖ raw key (a fresh copy). */
  serialize(): Uint8Array {
    return concatBytes(Uint8Array.of(KEM_KEY_TYPE_KYBER1024), this.#raw);
  }

  /** True when both keys have the same encoding. */
  equals(other: KemPublicKey): boolean {
    return constantTimeEqual(this.#raw, other.#raw);
  }

  /**
   * Kyber1024 r3 encapsulation with fresh randomness. A key whose coefficients are out of
   * range → `ProtocolError("invalid_key")`.
   */
  encapsulate(): KemEncapsulation {
    return this.encapsulateWithMessage(randomBytes(KYBER_MESSAGE_LENGTH));
  }

  /**
   * Deterministic encapsulation for known-answer tests: `m` is the 32-byte random message
   * Kyber would draw. Never call it with anything but fresh CSPRNG bytes outside tests.
   */
  encapsulateWithMessage(m: Uint8Array): KemEncapsulation {
    if (m.length !== KYBER_MESSAGE_LENGTH) throw new RangeError("encapsulate: m must be 32 bytes");
    const hash = nativeMlKemHash();
    let res: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    try {
      res = mlKemEncapsulate(hash, this.#raw, hash === undefined ? sha3_256(m) : hash.h(m));
    } catch {
      throw new ProtocolError("invalid_key");
    }
    return {
      sharedSecret: kyberFinalKey(hash, res.sharedSecret, res.cipherText),
      ciphertext: concatBytes(Uint8Array.of(KEM_KEY_TYPE_KYBER1024), res.cipherText),
    };
  }

  /** Public keys are not secret, but print compactly rather than as a byte dump. */
  toString(): string {
    return "[KemPublicKey]";
  }
}

/** A Kyber1024 secret key (serialized as 0x08 ‖ 3168 bytes). Prints as a redacted tag. */
export class KemSecretKey extends SecretHolder {
  readonly #raw: Uint8Array;

  private constructor(raw: Uint8Array) {
    super("KemSecretKey");
    this.#raw = raw;
  }

  /** Parses 0x08 ‖ 3168 bytes. Another length or type byte → `ProtocolError("invalid_key")`. */
  static deserialize(bytes: Uint8Array): KemSecretKey {
    const raw = parseTyped(bytes, KEM_SECRET_KEY_LENGTH);
    if (raw === undefined) throw new ProtocolError("invalid_key");
    return new KemSecretKey(raw);
  }

  /** 0x08 ‖ raw key (a fresh copy). Secret: store it, never print it. */
  serialize(): Uint8Array {
    return concatBytes(Uint8Array.of(KEM_KEY_TYPE_KYBER1024), this.#raw);
  }

  /**
   * Kyber1024 r3 decapsulation of a serialized ciphertext (0x08 ‖ 1568 bytes) → the 32-byte
   * shared secret. Wrong length or type byte → `ProtocolError("invalid_ciphertext")`; a secret
   * key whose embedded hash does not match → `ProtocolError("invalid_key")`.
   */
  decapsulate(ciphertext: Uint8Array): Uint8Array {
    const raw = parseTyped(ciphertext, KEM_CIPHERTEXT_LENGTH);
    if (raw === undefined) throw new ProtocolError("invalid_ciphertext");
    const hash = nativeMlKemHash();
    let kPrime: Uint8Array;
    try {
      kPrime = mlKemDecapsulate(hash, raw, this.#raw);
    } catch {
      throw new ProtocolError("invalid_key");
    }
    return kyberFinalKey(hash, kPrime, raw);
  }
}

/** A Kyber1024 key pair. Prints as a redacted tag because it holds the secret key. */
export class KemKeyPair extends SecretHolder {
  /** The public half. */
  readonly publicKey: KemPublicKey;
  /** The secret half. */
  readonly secretKey: KemSecretKey;

  constructor(publicKey: KemPublicKey, secretKey: KemSecretKey) {
    super("KemKeyPair");
    this.publicKey = publicKey;
    this.secretKey = secretKey;
  }

  /** A fresh key pair; the 64-byte key-generation seed comes from the CSPRNG. */
  static generate(): KemKeyPair {
    const seed = randomBytes(64);
    const { publicKey, secretKey } = mlKemKeygen(seed);
    return new KemKeyPair(
      KemPublicKey.deserialize(concatBytes(Uint8Array.of(KEM_KEY_TYPE_KYBER1024), publicKey)),
      KemSecretKey.deserialize(concatBytes(Uint8Array.of(KEM_KEY_TYPE_KYBER1024), secretKey)),
    );
  }
}
