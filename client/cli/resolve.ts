/**
 * Resolving what the user typed to a room or a member.
 *
 * Owns: ROOM = a room's id or name, MEMBER = a member's address or display name, with exact
 * matches first, then case-insensitive ones; no match or several matches is
 * `CliError(EXIT_NOT_FOUND)`. Does not own: where the lists come from (the client). Pure.
 */

import type { MemberView, RoomSummary } from "../app/securecomm-client.js";
import { CliError, EXIT_NOT_FOUND } from "./exit-codes.js";
import { terminalSafe } from "./format.js";

function pick<T>(items: readonly T[], keys: ReadonlyArray<(t: T) => string>, wanted: string): T[] {
  for (const key of keys) {
    const exact = items.filter((t) => key(t) === wanted);
    if (exact.length > 0) return exact;
  }
  const folded = wanted.toLocaleLowerCase();
  for (const key of keys) {
    const loose = items.filter((t) => key(t).toLocaleLowerCase() === folded);
    if (loose.length > 0) return loose;
  }
  return [];
}

/**
 * The room whose id is `wanted`, else whose name is (exactly, then ignoring case). Rooms
 * already left are considered only when no current room matches.
 */
export function resolveRoom(rooms: readonly RoomSummary[], wanted: string): RoomSummary {
  const keys = [(r: RoomSummary) => r.roomId, (r: RoomSummary) => r.name];
  let found = pick(rooms.filter((r) => !r.departed), keys, wanted);
  if (found.length === 0) found = pick(rooms, keys, wanted);
  const [first, second] = found;
  if (first === undefined) throw new CliError(EXIT_NOT_FOUND, 'No room by that name or id. "securecomm rooms" lists yours.');
  if (second !== undefined) {
    throw new CliError(EXIT_NOT_FOUND, `Several rooms are called that; use the id instead:\n${found.map((r) => `  ${r.roomId}`).join("\n")}`);
  }
  return first;
}

/** The member whose address is `wanted`, else whose display name is (exactly, then ignoring case). */
export function resolveMember(members: readonly MemberView[], wanted: string): MemberView {
  const found = pick(members, [(m) => m.address, (m) => m.displayName], wanted);
  const [first, second] = found;
  if (first === undefined) throw new CliError(EXIT_NOT_FOUND, "No member of this room by that name or address.");
  if (second !== undefined) {
    throw new CliError(
      EXIT_NOT_FOUND,
      `Several members are called that; use the address instead:\n${found.map((m) => `  ${m.address}  ${terminalSafe(m.displayName)}`).join("\n")}`,
    );
  }
  return first;
}
