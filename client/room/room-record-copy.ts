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
  if (Array.isArray(value)) return value.map(copyRecord) as T;
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyRecord(v);
  return out as T;
}
