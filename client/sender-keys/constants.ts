/**
 * Sender-key constants (spec/07-sender-keys.md), each with why it has its value.
 *
 * Owns: the version byte, KDF label, chain-step bytes and limits. Does not own: the
 * Double Ratchet's limits (client/ratchet/constants.ts), which have the same values.
 */
import { utf8 } from "../crypto/bytes.js";

/** Version byte of SenderKeyMessage and SKDM: libsignal's (3 << 4) | 3 (spec SK-05, SK-06). */
export const SENDER_KEY_VERSION = 0x33;
/** HKDF info for message keys (spec SK-03). */
export const SENDER_KEY_INFO = utf8("WhisperGroup");
/** HKDF output: IV (16) ‖ AES-256 key (32) (spec SK-03: IV first). */
export const SENDER_KEY_DERIVED_LENGTH = 48;
/** HMAC input deriving a message seed from a chain key (spec SK-02). */
export const MESSAGE_SEED_BYTE = new Uint8Array([0x01]);
/** HMAC input deriving the next chain key (spec SK-02). */
export const CHAIN_KEY_BYTE = new Uint8Array([0x02]);
/**
 * Largest forward jump accepted in one message (spec SK-07 via DR-09): libsignal's 25,000 bounds
 * the work a forged-iteration message can force (each step is two HMACs).
 */
export const MAX_FORWARD_JUMPS = 25_000;
/** Skipped seeds kept per state, oldest discarded first (spec SK-12; libsignal's 2,000). */
export const MAX_SKIPPED_SEEDS = 2_000;
/** States per record, newest first (spec SK-09; libsignal's 5). */
export const MAX_SENDER_KEY_STATES = 5;
/** Distribution id length: a UUID (spec SK-01). */
export const DISTRIBUTION_ID_LENGTH = 16;
/** Chain key length. */
export const CHAIN_KEY_LENGTH = 32;
/** Chain ids are drawn from 0..2^31 − 1 (spec SK-01; libsignal draws 31 bits). */
export const CHAIN_ID_MASK = 0x7fff_ffff;
/** Largest iteration: a uint32 on the wire. */
export const MAX_ITERATION = 0xffff_ffff;
