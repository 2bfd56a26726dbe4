/**
 * Pure operations on a session record: the current state and the archived ones.
 *
 * Owns: promoting a state to current (archiving the old current, newest first, at most
 * MAX_ARCHIVED_STATES), finding a state by its base key, and listing states in the order
 * decryption tries them (Sesame: the state that decrypts becomes current). Never mutates.
 * Does not own: stores or cryptography.
 */

import { create } from "@bufbuild/protobuf";
import {
  type SessionRecord,
  SessionRecordSchema,
  type SessionState,
} from "../../gen/securecomm/storage/v1/session_pb.js";
import { constantTimeEqual } from "../crypto/bytes.js";
import { MAX_ARCHIVED_STATES } from "../ratchet/constants.js";

/** A record with no states. */
export function emptySessionRecord(): SessionRecord {
  return create(SessionRecordSchema, { previous: [] });
}

/** Where a state sits in a record: -1 for current, otherwise its index in `previous`. */
export type StatePosition = number;

/** The record's states in the order decryption tries them: current first, then newest archived. */
export function statesInOrder(record: SessionRecord): Array<{ state: SessionState; position: StatePosition }> {
  const out: Array<{ state: SessionState; position: StatePosition }> = [];
  if (record.current !== undefined) out.push({ state: record.current, position: -1 });
  record.previous.forEach((state, i) => out.push({ state, position: i }));
  return out;
}

/**
 * The record with `state` as current (spec DR-17, DR-19): the state previously at `position` is
 * removed, the old current (if it is not the one replaced) is archived in front, and the
 * archive is trimmed to MAX_ARCHIVED_STATES, oldest dropped.
 */
export function promoteState(record: SessionRecord, state: SessionState, position?: StatePosition): SessionRecord {
  let previous = record.previous;
  let archived: SessionState[] = [];
  if (position === undefined || position >= 0) {
    if (position !== undefined) previous = previous.filter((_, i) => i !== position);
    if (record.current !== undefined) archived = [record.current];
  }
  // A complete literal: what create() would return, without its reflection (every message).
  return {
    $typeName: "securecomm.storage.v1.SessionRecord",
    current: state,
    previous: [...archived, ...previous].slice(0, MAX_ARCHIVED_STATES),
  };
}

/** The state (current or archived) started with base key `baseKey`, if any (spec PX-12). */
export function findStateByBaseKey(
  record: SessionRecord,
  baseKey: Uint8Array,
): { state: SessionState; position: StatePosition } | undefined {
  return statesInOrder(record).find(
    ({ state }) => state.baseKey.length === baseKey.length && constantTimeEqual(state.baseKey, baseKey),
  );
}
