// Test helper: the round-trip property every schema message must satisfy (binary and JSON, the
// JSON taken through real JSON text). It owns the property; which messages and values it is
// applied to is up to the tests in proto/.

import { expect } from "vitest";
import { equals, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import type { DescMessage, JsonValue, Message } from "@bufbuild/protobuf";
import { unknownFieldPaths } from "./wire-inspection.js";

/** The JSON text a peer would receive, parsed back: a real trip through JSON text. */
function throughJsonText(value: JsonValue): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

/**
 * Asserts `toBinary → fromBinary` and `toJson → JSON text → fromJson` (default names, proto field
 * names, implicit defaults emitted) each give a message `equals` to `message`, that binary
 * decoding leaves no unknown fields at any level, and that re-encoding is byte-stable.
 */
export function assertRoundTrips(desc: DescMessage, message: Message): void {
  const bytes = toBinary(desc, message);
  const decoded = fromBinary(desc, bytes);
  expect(equals(desc, decoded, message)).toBe(true);
  expect(unknownFieldPaths(desc, decoded)).toEqual([]);
  // Encoding what was decoded gives the same bytes: protobuf-es writes deterministically.
  expect(toBinary(desc, decoded)).toEqual(bytes);

  const json = throughJsonText(toJson(desc, message));
  expect(equals(desc, fromJson(desc, json), message)).toBe(true);
  const withDefaults = throughJsonText(toJson(desc, message, { alwaysEmitImplicit: true }));
  expect(equals(desc, fromJson(desc, withDefaults), message)).toBe(true);
  const protoNames = throughJsonText(toJson(desc, message, { useProtoFieldName: true }));
  expect(equals(desc, fromJson(desc, protoNames), message)).toBe(true);
}
