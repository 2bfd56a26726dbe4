// Test helper: decodes bytes another implementation produced (libsignal) with our schema and
// asserts the schema accounts for all of them: every field number known with the right wire
// type, no unknown fields at any level. Also the framing around Signal's protobufs (a version
// byte before, a MAC or signature after). It owns these checks only.

import { expect } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { unknownFieldPaths, wireFieldMismatches } from "./wire-inspection.js";

/** Byte-wise equality, so a failing assertion prints true/false rather than key bytes. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * Decodes `bytes` as `desc`, asserting first that every top-level field has a number and wire
 * type the schema declares, and then that the decoded message holds no unknown fields at any
 * depth (protobuf-es keeps them in `$unknown`).
 */
export function decodeStrict<Desc extends DescMessage>(desc: Desc, bytes: Uint8Array): MessageShape<Desc> {
  expect(wireFieldMismatches(desc, bytes)).toEqual([]);
  const message = fromBinary(desc, bytes);
  expect(unknownFieldPaths(desc, message)).toEqual([]);
  return message;
}

/** Splits Signal framing `version ‖ body ‖ trailer`, asserting the version byte. */
export function unframe(
  bytes: Uint8Array,
  version: number,
  trailerLength: number,
): { body: Uint8Array; trailer: Uint8Array; signed: Uint8Array } {
  expect(bytes.length).toBeGreaterThan(1 + trailerLength);
  expect(bytes[0]).toBe(version);
  const end = bytes.length - trailerLength;
  return {
    body: bytes.subarray(1, end),
    trailer: bytes.subarray(end),
    signed: bytes.subarray(0, end),
  };
}

/** The 16 bytes of a hyphenated UUID string. */
export function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  expect(hex).toMatch(/^[0-9a-f]{32}$/);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}
