// Every message type of every securecomm schema (relay, wire, storage) survives binary and JSON
// round trips for random valid values derived from its descriptor, and a message type added to a
// .proto file is covered without editing this file: the enumeration comes from the generated file
// descriptors, and is checked against the .proto sources so a stale gen/ fails too.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { reflect } from "@bufbuild/protobuf/reflect";
import { arbitraryMessage } from "./testing/arbitrary-message.js";
import {
  SCHEMA_AREAS,
  countMessageDeclarations,
  loadSchemaFiles,
  messagesOfFile,
  protoSourceFiles,
} from "./testing/schema-files.js";
import type { SchemaFile } from "./testing/schema-files.js";
import { assertRoundTrips } from "./testing/round-trip.js";

/** Runs per message type: ~80 types × this stays within a few seconds on two cores. */
const RUNS_PER_TYPE = 60;

/**
 * Samples used to show the arbitrary really sets every field of a type at least once. The
 * rarest event is one arm of Content's 10-arm oneof (about 1 in 11 per sample), missed by 200
 * samples with probability below 1e-8; a fixed seed makes the check deterministic anyway.
 */
const COVERAGE_SAMPLES = 200;
const COVERAGE_SEED = 20_261_122;

const schema = new Map<string, SchemaFile[]>();
for (const area of SCHEMA_AREAS) schema.set(area, await loadSchemaFiles(area));

function filesOf(area: string): SchemaFile[] {
  const files = schema.get(area);
  if (files === undefined) throw new Error(`no schema area ${area}`);
  return files;
}

describe("schema enumeration", () => {
  it.each(SCHEMA_AREAS)("%s: every .proto file is generated, enumerated and has messages", (area) => {
    const files = filesOf(area);
    expect(files.map((f) => f.desc.proto.name).sort()).toEqual(protoSourceFiles(area));
    let total = 0;
    for (const file of files) {
      const messages = messagesOfFile(file.desc);
      // A message added to the .proto but not regenerated shows up as a count mismatch.
      expect(messages.length, file.desc.proto.name).toBe(countMessageDeclarations(file.desc.proto.name));
      expect(messages.every((m) => m.file === file.desc)).toBe(true);
      total += messages.length;
    }
    expect(total).toBeGreaterThan(0);
    expect(new Set(files.flatMap((f) => messagesOfFile(f.desc).map((m) => m.typeName))).size).toBe(total);
  });
});

for (const area of SCHEMA_AREAS) {
  describe(`securecomm.${area}.v1 round trips`, () => {
    for (const file of filesOf(area)) {
      for (const desc of messagesOfFile(file.desc)) {
        it(`${desc.typeName}: toBinary→fromBinary and toJson→fromJson give an equal message`, () => {
          fc.assert(
            fc.property(arbitraryMessage(desc), (message) => assertRoundTrips(desc, message)),
            { numRuns: RUNS_PER_TYPE },
          );
        });

        it(`${desc.typeName}: the generator sets every field and oneof arm`, () => {
          // Without this, a generator that left fields unset would make the round trip vacuous.
          const seen = new Set<string>();
          for (const message of fc.sample(arbitraryMessage(desc), { numRuns: COVERAGE_SAMPLES, seed: COVERAGE_SEED })) {
            const r = reflect(desc, message);
            for (const field of desc.fields) if (r.isSet(field)) seen.add(field.name);
          }
          expect([...seen].sort()).toEqual(desc.fields.map((f) => f.name).sort());
        });
      }
    }
  });
}
