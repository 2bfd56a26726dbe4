// Tests of the schema-test helpers in proto/testing/ on a synthetic schema that uses what the
// securecomm schemas do not (yet): every scalar type, maps, JS_STRING 64-bit fields, nested and
// recursive types. A schema change that starts using one of these is then already covered, and
// the helpers are shown to be able to fail.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { create, createFileRegistry, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import type { DescFile, DescMessage } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { DescriptorProtoJson, FieldDescriptorProtoJson } from "@bufbuild/protobuf/wkt";
import { arbitraryMessage } from "./testing/arbitrary-message.js";
import { loadMessages, messagesOfFile, SCHEMA_AREAS } from "./testing/schema-files.js";
import { assertRoundTrips } from "./testing/round-trip.js";
import { listWireFields, unknownFieldPaths, wireFieldMismatches } from "./testing/wire-inspection.js";

const T = FieldDescriptorProto_Type;
const SCALARS: [string, FieldDescriptorProto_Type][] = [
  ["d", T.DOUBLE], ["f", T.FLOAT], ["i64", T.INT64], ["u64", T.UINT64], ["i32", T.INT32],
  ["fx64", T.FIXED64], ["fx32", T.FIXED32], ["b", T.BOOL], ["s", T.STRING], ["by", T.BYTES],
  ["u32", T.UINT32], ["sfx32", T.SFIXED32], ["sfx64", T.SFIXED64], ["si32", T.SINT32], ["si64", T.SINT64],
];

function field(
  name: string,
  number: number,
  type: FieldDescriptorProto_Type,
  extra: Partial<FieldDescriptorProtoJson> = {},
): FieldDescriptorProtoJson {
  return { name, number, type: `TYPE_${T[type]}` as FieldDescriptorProtoJson["type"], label: "LABEL_OPTIONAL", jsonName: name, ...extra };
}

/** A proto3 file exercising every field shape the arbitrary supports. */
function syntheticFile(): DescFile {
  const fields: FieldDescriptorProtoJson[] = [];
  const oneofs: { name: string }[] = [{ name: "choice" }];
  let n = 1;
  for (const [name, type] of SCALARS) {
    fields.push(field(`plain_${name}`, n++, type));
    fields.push(field(`rep_${name}`, n++, type, { label: "LABEL_REPEATED" }));
  }
  // proto3 `optional`: explicit presence through a synthetic oneof, declared after real ones.
  const synthetic = (name: string, type: FieldDescriptorProto_Type, extra: Partial<FieldDescriptorProtoJson> = {}) => {
    oneofs.push({ name: `_${name}` });
    fields.push(field(name, n++, type, { proto3Optional: true, oneofIndex: oneofs.length - 1, ...extra }));
  };
  fields.push(field("choice_text", n++, T.STRING, { oneofIndex: 0 }));
  fields.push(field("choice_self", n++, T.MESSAGE, { oneofIndex: 0, typeName: ".synthetic.v1.All" }));
  fields.push(field("color", n++, T.ENUM, { typeName: ".synthetic.v1.Color" }));
  fields.push(field("colors", n++, T.ENUM, { typeName: ".synthetic.v1.Color", label: "LABEL_REPEATED" }));
  fields.push(field("inner", n++, T.MESSAGE, { typeName: ".synthetic.v1.All.Inner" }));
  fields.push(field("inners", n++, T.MESSAGE, { typeName: ".synthetic.v1.All.Inner", label: "LABEL_REPEATED" }));
  fields.push(field("by_name", n++, T.MESSAGE, { typeName: ".synthetic.v1.All.ByNameEntry", label: "LABEL_REPEATED" }));
  fields.push(field("by_id", n++, T.MESSAGE, { typeName: ".synthetic.v1.All.ByIdEntry", label: "LABEL_REPEATED" }));
  fields.push(field("by_flag", n++, T.MESSAGE, { typeName: ".synthetic.v1.All.ByFlagEntry", label: "LABEL_REPEATED" }));
  synthetic("opt_u32", T.UINT32);
  synthetic("opt_big", T.UINT64, { options: { jstype: "JS_STRING" } });
  const mapEntry = (name: string, key: FieldDescriptorProto_Type, value: FieldDescriptorProtoJson): DescriptorProtoJson => ({
    name,
    field: [field("key", 1, key), { ...value, name: "value", number: 2, jsonName: "value" }],
    options: { mapEntry: true },
  });
  const all: DescriptorProtoJson = {
    name: "All",
    field: fields,
    oneofDecl: oneofs,
    nestedType: [
      { name: "Inner", field: [field("note", 1, T.STRING), field("back", 2, T.MESSAGE, { typeName: ".synthetic.v1.All" })] },
      mapEntry("ByNameEntry", T.STRING, field("value", 2, T.INT64)),
      mapEntry("ByIdEntry", T.SFIXED64, field("value", 2, T.MESSAGE, { typeName: ".synthetic.v1.All.Inner" })),
      mapEntry("ByFlagEntry", T.BOOL, field("value", 2, T.ENUM, { typeName: ".synthetic.v1.Color" })),
    ],
  };
  const proto = fromJson(FileDescriptorProtoSchema, {
    name: "synthetic/v1/all.proto",
    package: "synthetic.v1",
    syntax: "proto3",
    messageType: [all],
    enumType: [
      {
        name: "Color",
        value: [
          { name: "COLOR_UNSPECIFIED", number: 0 },
          { name: "COLOR_RED", number: 1 },
          { name: "COLOR_BLUE", number: 7 },
        ],
      },
    ],
  });
  const file = createFileRegistry(proto, () => undefined).getFile("synthetic/v1/all.proto");
  if (file === undefined) throw new Error("synthetic file did not register");
  return file;
}

const file = syntheticFile();
const all = file.messages[0] as DescMessage;

describe("messagesOfFile", () => {
  it("enumerates nested types; map entries are covered through their map fields", () => {
    expect(messagesOfFile(file).map((m) => m.name).sort()).toEqual(["All", "Inner"]);
  });
});

describe("arbitraryMessage on every field shape", () => {
  it("round-trips values using every scalar type, maps, oneofs, recursion and JS_STRING", () => {
    // Depth 2: the recursive synthetic type grows quickly, and two levels reach every shape.
    fc.assert(fc.property(arbitraryMessage(all, { maxDepth: 2 }), (m) => assertRoundTrips(all, m)), {
      numRuns: 100,
    });
  });

  it("regression seed 596969987: a map key spelled __proto__ is never generated", () => {
    // This seed once produced `byName: { __proto__: 0n }`, which no protobuf-es map object can
    // hold; the arbitrary now excludes that key (arbitrary-message.ts).
    fc.assert(fc.property(arbitraryMessage(all, { maxDepth: 2 }), (m) => assertRoundTrips(all, m)), {
      numRuns: 52,
      seed: 596969987,
    });
  });

  it("declares no map field in any SecureComm schema (so the __proto__ key limit cannot reach product data)", async () => {
    const withMaps: string[] = [];
    for (const area of SCHEMA_AREAS) {
      for (const desc of await loadMessages(area)) {
        for (const f of desc.fields) if (f.fieldKind === "map") withMaps.push(`${desc.typeName}.${f.name}`);
      }
    }
    expect(withMaps).toEqual([]);
  });

  it("sets every field, and stops recursing at maxDepth", () => {
    const seen = new Set<string>();
    let deepest = 0;
    const depthOf = (desc: DescMessage, m: unknown): number => {
      const r = reflect(desc, m as never);
      let d = 0;
      for (const f of desc.fields) {
        if (!r.isSet(f)) continue;
        if (f.fieldKind === "message") d = Math.max(d, 1 + depthOf(f.message, (r.get(f) as { message: unknown }).message));
      }
      return d;
    };
    for (const m of fc.sample(arbitraryMessage(all, { maxDepth: 2 }), { numRuns: 300, seed: 1122 })) {
      const r = reflect(all, m);
      for (const f of all.fields) if (r.isSet(f)) seen.add(f.name);
      deepest = Math.max(deepest, depthOf(all, m));
    }
    expect([...seen].sort()).toEqual(all.fields.map((f) => f.name).sort());
    expect(deepest).toBe(2);
  });
});

describe("wire inspection", () => {
  it("lists top-level fields with their wire types", () => {
    const bytes = new BinaryWriter().tag(1, WireType.Varint).uint32(5).tag(9, WireType.LengthDelimited).bytes(new Uint8Array(3)).tag(3, WireType.Bit64).fixed64(1n).finish();
    expect(listWireFields(bytes)).toEqual([
      { number: 1, wireType: WireType.Varint },
      { number: 9, wireType: WireType.LengthDelimited },
      { number: 3, wireType: WireType.Bit64 },
    ]);
  });

  it("flags unknown field numbers and wrong wire types", () => {
    const inner = messagesOfFile(file).find((m) => m.name === "Inner")!;
    const ok = new BinaryWriter().tag(1, WireType.LengthDelimited).string("x").finish();
    expect(wireFieldMismatches(inner, ok)).toEqual([]);
    const unknown = new BinaryWriter().tag(5, WireType.Varint).uint32(1).finish();
    expect(wireFieldMismatches(inner, unknown)).toHaveLength(1);
    const wrongType = new BinaryWriter().tag(1, WireType.Varint).uint32(1).finish();
    expect(wireFieldMismatches(inner, wrongType)).toHaveLength(1);
  });

  it("finds unknown fields at any depth", () => {
    const inner = messagesOfFile(file).find((m) => m.name === "Inner")!;
    const clean = create(all, { inner: { note: "a", back: { inner: { note: "b" } } } });
    expect(unknownFieldPaths(all, fromBinary(all, toBinary(all, clean)))).toEqual([]);
    // Put an unknown field (number 99) inside All.inner.back.inner.
    const extra = new BinaryWriter().tag(99, WireType.Varint).uint32(1).finish();
    const deepInner = toBinary(inner, create(inner, { note: "b" }));
    const withExtra = new Uint8Array([...deepInner, ...extra]);
    const innerField = all.fields.find((f) => f.name === "inner")!;
    const back = new BinaryWriter().tag(innerField.number, WireType.LengthDelimited).bytes(withExtra).finish();
    const innerBytes = new BinaryWriter().tag(1, WireType.LengthDelimited).string("a").tag(2, WireType.LengthDelimited).bytes(back).finish();
    const root = new BinaryWriter().tag(innerField.number, WireType.LengthDelimited).bytes(innerBytes).finish();
    expect(unknownFieldPaths(all, fromBinary(all, root))).toEqual(["$.inner.back.inner"]);
  });
});
