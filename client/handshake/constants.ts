/**
 * PQXDH constants: KDF label, padding prefix and output layout.
 *
 * Owns: every constant of the key agreement (spec PX-05, PX-06), with why it has its value.
 * Does not own: ratchet labels (client/ratchet/constants.ts).
 */

import { utf8 } from "../crypto/bytes.js";

/** HKDF info of PQXDH with X25519, SHA-256 and Kyber1024 round 3, the name libsignal uses. */
export const PQXDH_INFO = utf8("WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024");

/**
 * 32 bytes of 0xFF prefixed to the DH outputs, so the KDF input never starts like a valid
 * X25519 key (X3DH §2.2 "F"; cryptographic domain separation from XEdDSA).
 */
export const PQXDH_DISCONTINUITY = new Uint8Array(32).fill(0xff);

/** PQXDH output length: root key (32) ‖ chain key (32) ‖ SPQR auth key (32) (SIGNAL-FACTS, PQXDH). */
export const PQXDH_OUTPUT_LENGTH = 96;

/** Serialized Kyber1024 public key length (0x08 ‖ 1568), the only KEM libsignal 0.103 accepts. */
export const KYBER_PUBLIC_KEY_LENGTH = 1569;

/** Serialized Kyber1024 ciphertext length (0x08 ‖ 1568). */
export const KYBER_CIPHERTEXT_LENGTH = 1569;
