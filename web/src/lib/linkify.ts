/**
 * Finding web links in message text so the room view can make them clickable, safely.
 *
 * Owns: the rule for what counts as a link: only `http://` and `https://` URLs that the URL
 * parser accepts, without credentials, with trailing sentence punctuation left out. Anything
 * else (javascript:, data:, file:, a bare domain) stays plain text. Does not own: rendering
 * (the view renders an `<a>` with rel="noopener noreferrer" and target="_blank").
 */

/** One piece of a message: plain text, or a link with the exact text it came from. */
export type TextPart = { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

/** Anything from `http://` or `https://` up to whitespace, `<`, `>` or `"`. */
const CANDIDATE = /\bhttps?:\/\/[^\s<>"]+/gi;
/** Punctuation that usually ends a sentence rather than a URL. */
const TRAILING_CHARS = ".,;:!?'\")]}";

/** The URL `candidate` points at, if it is a safe http(s) link; else undefined. */
export function safeHref(candidate: string): string | undefined {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.username !== "" || url.password !== "") return undefined;
  return url.href;
}

/** Splits `text` into plain parts and http(s) links, in order; joining every `text` gives `text` back. */
export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index;
    let raw = match[0];
    // Sentence punctuation after a URL is not part of it; a closing parenthesis is, when it
    // closes one opened inside the URL (…/Foo_(bar)).
    while (raw.length > 0) {
      const last = raw[raw.length - 1]!;
      if (!TRAILING_CHARS.includes(last)) break;
      if (last === ")" && (raw.match(/\(/g)?.length ?? 0) >= (raw.match(/\)/g)?.length ?? 0)) break;
      raw = raw.slice(0, -1);
    }
    const href = safeHref(raw);
    if (href === undefined) continue;
    if (start > at) parts.push({ kind: "text", text: text.slice(at, start) });
    parts.push({ kind: "link", text: raw, href });
    at = start + raw.length;
  }
  if (at < text.length) parts.push({ kind: "text", text: text.slice(at) });
  return parts;
}
