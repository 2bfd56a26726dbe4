/**
 * Input limits the forms enforce before anything reaches the client.
 *
 * Owns: the longest display name, room name and message the UI accepts. The client validates
 * again; these only keep the forms honest and the layout sane.
 */

/** Longest display name: enough for a full name, short enough for the member list. */
export const MAX_DISPLAY_NAME = 64;
/** Longest room name: fits a header line on a phone. */
export const MAX_ROOM_NAME = 80;
/**
 * Longest message the composer takes, in characters. Well under the relay's envelope cap
 * even after UTF-8 (×4), padding and encryption overhead.
 */
export const MAX_MESSAGE = 4000;
