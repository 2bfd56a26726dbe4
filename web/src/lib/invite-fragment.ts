/**
 * Reading an invite link from the address bar (spec/09-rooms.md, invites; DESIGN.md §4).
 *
 * Owns: recognising `#join=…` in the page's URL, handing the whole link to the client, and
 * removing the fragment from the address bar and history entry (history.replaceState) so the
 * room secret does not linger. Does not own: parsing the invite (client/), which validates it.
 */

/** The fragment prefix of an invite link. */
export const INVITE_FRAGMENT_PREFIX = "#join=";

/** The parts of `window` this module touches, so tests can pass their own. */
export interface AddressBar {
  readonly location: { readonly href: string; readonly hash: string; readonly pathname: string; readonly search: string };
  readonly history: { replaceState(data: unknown, unused: string, url?: string | URL | null): void };
}

/**
 * If the address bar holds an invite (`…#join=…`), returns the full link and rewrites the
 * address bar to the same page without the fragment; otherwise returns undefined and changes
 * nothing.
 */
export function takeInviteFromAddressBar(win: AddressBar): string | undefined {
  const { hash } = win.location;
  if (!hash.startsWith(INVITE_FRAGMENT_PREFIX) || hash.length <= INVITE_FRAGMENT_PREFIX.length) return undefined;
  const link = win.location.href;
  win.history.replaceState(null, "", win.location.pathname + win.location.search);
  return link;
}

/** True when `text` looks like an invite link someone pasted (a URL with `#join=`). */
export function looksLikeInviteLink(text: string): boolean {
  const trimmed = text.trim();
  const at = trimmed.indexOf(INVITE_FRAGMENT_PREFIX);
  return at > 0 && trimmed.length > at + INVITE_FRAGMENT_PREFIX.length && /^https?:\/\//.test(trimmed);
}
