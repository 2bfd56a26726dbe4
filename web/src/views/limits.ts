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
 * Longest message text, in UTF-8 bytes: the room protocol's limit (spec RM-07, "`Text.body` is
 * at most 4096 bytes"; receivers drop longer ones), which is what the envelope permits. About
 * 4,000 Latin letters, fewer in scripts or emoji that take 2–4 bytes each.
 */
export const MAX_MESSAGE_BYTES = 4096;
/** The composer shows how much room is left once a draft passes this many bytes. */
export const SHOW_MESSAGE_COUNTER_BYTES = 3_500;
