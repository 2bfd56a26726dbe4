/**
 * Transport padding of plaintexts (spec EN-06).
 *
 * Owns: `pad(x) = x ‖ 0x80 ‖ 0x00…` up to the next multiple of 160 bytes (always adding at
 * least one byte) and its inverse. Does not own: deciding what gets padded (the room and
 * session layers apply it to Content bytes).
 */
import { ProtocolError } from "./errors.js";

/**
 * Padding block size (spec EN-06): Signal pads to 160 bytes, so lengths leak only in
 * 160-byte steps while short chat messages stay one block.
 */
export const PADDING_BLOCK = 160;
/** The marker byte that ends the content (ISO/IEC 7816-4 style padding). */
const PADDING_MARKER = 0x80;

/** Pads `bytes` with 0x80 then zeros to the next multiple of 160 (spec EN-06). */
export function pad(bytes: Uint8Array): Uint8Array {
  const length = (Math.floor(bytes.length / PADDING_BLOCK) + 1) * PADDING_BLOCK;
  const out = new Uint8Array(length);
  out.set(bytes, 0);
  out[bytes.length] = PADDING_MARKER;
  return out;
}

/**
 * Removes EN-06 padding: strips trailing zeros, then requires and strips one 0x80. Any other
 * ending (including empty or all-zero input) → `ProtocolError("invalid_padding")`. Does not
 * require a multiple of 160, so the padding policy can change without breaking decoders.
 */
export function unpad(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0 || bytes[end - 1] !== PADDING_MARKER) throw new ProtocolError("invalid_padding");
  return bytes.slice(0, end - 1);
}
