// How the client's tests read a refusal: the `ProtocolError` code a call rejects (or throws)
// with. One place for what a dozen test files wrote for themselves. Never imported by product
// code.

import { expect } from "vitest";
import { isProtocolError, type ProtocolErrorCode } from "./errors.js";

/**
 * The `ProtocolError` code `p` rejects with (or a thunk throws or rejects with), `other: …` for
 * any other error, and `undefined` when it succeeds.
 */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return isProtocolError(e) ? e.code : `other: ${String(e)}`;
  }
  return undefined;
}

/** Expects `p` to reject with a `ProtocolError` of `code`. */
export async function expectCode(p: Promise<unknown>, code: ProtocolErrorCode): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(isProtocolError(caught, code), `expected ProtocolError ${code}, got ${String(caught)}`).toBe(true);
}
