/**
 * A round badge with a person's initials, tinted from their address so people are easy to
 * tell apart. Owns nothing else.
 */

import { initials } from "../lib/format.js";

/** Number of tints in styles.css (`.avatar.tint-0` … `.tint-7`). */
export const AVATAR_TINTS = 8;

/** A stable tint index for an address (not security relevant: only colour). */
export function tintOf(address: string): number {
  let h = 0;
  for (let i = 0; i < address.length; i++) h = (h * 31 + address.charCodeAt(i)) >>> 0;
  return h % AVATAR_TINTS;
}

/** The avatar for one member. */
export function Avatar(props: { name: string; address: string }) {
  return (
    <span class={`avatar tint-${tintOf(props.address)}`} aria-hidden="true">
      {initials(props.name)}
    </span>
  );
}
