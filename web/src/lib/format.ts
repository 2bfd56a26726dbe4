/**
 * Presentation helpers with no state: safety-number grouping, times, initials.
 *
 * Owns: how numbers, times and names are written on screen. Does not own: computing safety
 * numbers (client/fingerprint) or anything stored.
 */

/** Digits in a safety number (spec: Signal's 60-digit fingerprint, 12 groups of 5). */
export const SAFETY_NUMBER_DIGITS = 60;
/** Digits per group as Signal shows them, so two people can read them aloud in chunks. */
export const SAFETY_NUMBER_GROUP = 5;

/** Splits a 60-digit safety number into 12 groups of 5; throws RangeError on anything else. */
export function safetyNumberGroups(digits: string): string[] {
  if (digits.length !== SAFETY_NUMBER_DIGITS || !/^[0-9]+$/.test(digits)) {
    throw new RangeError("a safety number has 60 digits");
  }
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += SAFETY_NUMBER_GROUP) groups.push(digits.slice(i, i + SAFETY_NUMBER_GROUP));
  return groups;
}

/** A fingerprint shown in groups of four characters, for reading aloud. */
export function groupFingerprint(fingerprint: string): string {
  return fingerprint.replace(/\s+/g, "").replace(/(.{4})(?=.)/g, "$1 ");
}

/** "14:05" in the user's locale for a message time. */
export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/**
 * A message time with its date when it is not today: "14:05" today, "Yesterday 14:05",
 * "Mon 1 Dec, 14:05" this year, "1 Dec 2025, 14:05" before. `now` is the reference day.
 */
export function formatMessageTime(ms: number, now: number = Date.now()): string {
  const d = new Date(ms);
  const today = new Date(now);
  const dayStart = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((dayStart(today) - dayStart(d)) / 86_400_000);
  const time = formatTime(ms);
  if (days === 0) return time;
  if (days === 1) return `Yesterday ${time}`;
  const sameYear = d.getFullYear() === today.getFullYear();
  const date = d.toLocaleDateString(undefined, sameYear ? { weekday: "short", day: "numeric", month: "short" } : { day: "numeric", month: "short", year: "numeric" });
  return `${date}, ${time}`;
}

/** The full date and time, for a tooltip. */
export function formatFullTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
}

/** One or two capital letters for an avatar. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter((w) => w.length > 0);
  const letters = words.slice(0, 2).map((w) => Array.from(w)[0] ?? "");
  return letters.join("").toUpperCase() || "?";
}

/** Names for "… is typing" in a sentence. */
export function typingSentence(names: readonly string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}
