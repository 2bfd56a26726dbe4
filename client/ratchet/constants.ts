/**
 * Double Ratchet and SPQR constants: message version, KDF labels and limits.
 *
 * Owns: every label and limit the ratchet layer uses, each with the reason for its value
 * (STYLE.md: limits and labels as named constants in one place, like libsignal's consts).
 * Does not own: PQXDH labels (client/handshake/constants.ts).
 */

import { utf8 } from "../crypto/bytes.js";

/** Message version 4 in both nibbles, the byte in front of every SignalMessage (SIGNAL-FACTS, Double Ratchet). */
export const MESSAGE_VERSION_BYTE = 0x44;

/** The message version number stored in session states; libsignal 0.103 speaks only version 4. */
export const MESSAGE_VERSION = 4;

/** Length of the truncated HMAC-SHA256 tag that ends a SignalMessage (DR MAC, 8 bytes as libsignal). */
export const MAC_LENGTH = 8;

/** HKDF info of the root-key step: root ‖ chain (Signal Double Ratchet, KDF_RK). */
export const ROOT_KDF_INFO = utf8("WhisperRatchet");

/** HKDF info of the message-key derivation: cipher key ‖ MAC key ‖ IV (80 bytes). */
export const MESSAGE_KEYS_INFO = utf8("WhisperMessageKeys");

/** HMAC input byte giving the message seed from a chain key (Signal Double Ratchet, KDF_CK). */
export const MESSAGE_SEED_BYTE = Uint8Array.of(0x01);

/** HMAC input byte giving the next chain key from a chain key (Signal Double Ratchet, KDF_CK). */
export const CHAIN_KEY_BYTE = Uint8Array.of(0x02);

/**
 * Furthest a counter may jump ahead of its chain. Bounds the work one forged-but-unauthenticated
 * message can force before its MAC is checked; 25,000 is libsignal's value, so honest bursty
 * peers that libsignal accepts are accepted here too.
 */
export const MAX_FORWARD_JUMPS = 25_000;

/**
 * Skipped message keys kept per receiving chain (oldest dropped first). Bounds memory and the
 * window for very late messages; 2,000 is libsignal's value.
 */
export const MAX_MESSAGE_KEYS = 2_000;

/** Receiving chains kept per session (oldest dropped first); libsignal keeps 5. */
export const MAX_RECEIVER_CHAINS = 5;

/** Archived session states kept per record besides the current one; libsignal keeps 40. */
export const MAX_ARCHIVED_STATES = 40;

/** SPQR chain bootstrap label. TWO spaces before `Start`: the label that interoperated (SIGNAL-FACTS, SPQR). */
export const SPQR_CHAIN_START_INFO = utf8("Signal PQ Ratchet V1 Chain  Start");

/** SPQR per-message chain step label, prefixed by the big-endian 32-bit counter (SIGNAL-FACTS, SPQR). */
export const SPQR_CHAIN_NEXT_INFO = utf8("Signal PQ Ratchet V1 Chain Next");

/** SPQR message format version, the first byte of the `pq_ratchet` field. */
export const SPQR_MESSAGE_VERSION = 1;

/** The epoch varint an epoch-0 SPQR message carries (SIGNAL-FACTS: "in epoch 0 the epoch varint is 1"). */
export const SPQR_EPOCH0_WIRE = 1;

/** SPQR payload type `None`: no KEM traffic, only the chain index. */
export const SPQR_PAYLOAD_NONE = 0;

/**
 * Furthest an SPQR index may jump ahead. SPQR indices count every message of a direction
 * across DH chains, so one DR jump is at most this far too in practice; equal to the DR limit.
 */
export const SPQR_MAX_FORWARD_JUMPS = MAX_FORWARD_JUMPS;

/**
 * SPQR keys kept for messages not yet received. As many as the DR layer can hold skipped keys
 * for (5 chains × 2,000), so SPQR is never the tighter bound on late delivery.
 */
export const SPQR_MAX_SKIPPED_KEYS = MAX_RECEIVER_CHAINS * MAX_MESSAGE_KEYS;

/** SPQR label mixing an epoch secret into the chains (spec PQ-15). */
export const SPQR_CHAIN_ADD_EPOCH_INFO = utf8("Signal PQ Ratchet V1 Chain Add Epoch");

/** The Braid's protocol name, prefix of its KDF and MAC labels (spec PQ-13, PQ-14). */
const BRAID_PROTOCOL_INFO = "Signal_PQCKA_V1_MLKEM768";

/** Braid label of the epoch secret: `HKDF(0×32, ss, label ‖ BE64(epoch), 32)` (spec PQ-14). */
export const BRAID_SCKA_KEY_INFO = utf8(`${BRAID_PROTOCOL_INFO}:SCKA Key`);

/** Braid label of the authenticator update (spec PQ-13). */
export const BRAID_AUTH_UPDATE_INFO = utf8(`${BRAID_PROTOCOL_INFO}:Authenticator Update`);

/** Braid label of the header MAC (spec PQ-13). */
export const BRAID_HEADER_MAC_INFO = utf8(`${BRAID_PROTOCOL_INFO}:ekheader`);

/** Braid label of the ciphertext MAC (spec PQ-13). */
export const BRAID_CIPHERTEXT_MAC_INFO = utf8(`${BRAID_PROTOCOL_INFO}:ciphertext`);

/** Length of the Braid's HMAC-SHA256 tags on the header and the ciphertext (untruncated). */
export const BRAID_MAC_LENGTH = 32;

/**
 * Furthest an SPQR index may jump ahead within one chain epoch (phase 2); libsignal's chain
 * parameter, equal to the Double Ratchet limit.
 */
export const SPQR_EPOCH_MAX_FORWARD_JUMPS = MAX_FORWARD_JUMPS;

/** SPQR keys kept per chain epoch for messages not yet received (phase 2), as libsignal's chain. */
export const SPQR_EPOCH_MAX_SKIPPED_KEYS = MAX_MESSAGE_KEYS;

/**
 * Chain epochs kept (oldest dropped). An epoch lasts at least a KEM round trip of ~40 chunked
 * messages each way, so messages delayed across more than four newer epochs are very late; the
 * bound keeps state at most 5 × 2,000 skipped keys, the phase-1 bound.
 */
export const SPQR_MAX_EPOCHS = 5;

/** Length of every symmetric key the ratchet handles (root, chain, SPQR chain, message keys). */
export const KEY_LENGTH = 32;
