/**
 * Copies of room records (spec/09-rooms.md: the pure rules return a new record; the store
 * hands each caller its own).
 *
 * Owns: `copyRecord`, a structural copy of a decoded protobuf message that shares only byte
 * strings. A room record lists every member (a 100-member room's is about 12 KB) and every
 * room event copies it at least once: protobuf's reflective `clone` (which copies bytes too)
 * and decoding the stored bytes again each took a large part of a member's time per message.
 * Pure: no I/O.
 */

/**
 * A copy of `value` (a decoded message, list or scalar) that shares nothing changeable with it:
 * messages and lists are copied all the way down; byte strings are shared, because nothing
 * writes into a room record's bytes (fields are replaced, never filled in place; a decoded
 * record's bytes may be views of the stored value, so writing into them would already change
 * the store's copy).
 */
export function copyRecord<T>(value: T): T {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyRecord(value[i]);
    return out as T;
  }
  // for…in rather than Object.entries: no array of pairs per object (decoded messages have no
  // inherited enumerable properties: their prototype is Object.prototype).
  const out: Record<string, unknown> = {};
  const from = value as Record<string, unknown>;
  for (const k in from) out[k] = copyRecord(from[k]);
  return out as T;
}
