// Test helper: looks at protobuf bytes and decoded messages independently of the schema's own
// decoder, to pin field numbers and wire types against bytes another implementation produced
// (libsignal). It owns inspection only; the interop assertions live in proto/*.test.ts.

import { ScalarType } from "@bufbuild/protobuf";
import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import type { ReflectMessage } from "@bufbuild/protobuf/reflect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** One top-level field occurrence in protobuf bytes: its number and wire type. */
export interface WireField {
  /** Field number. */
  readonly number: number;
  /** Wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). */
  readonly wireType: WireType;
}

/** Lists the top-level fields of protobuf bytes in order, without a schema. Throws on bad input. */
export function listWireFields(bytes: Uint8Array): WireField[] {
  const reader = new BinaryReader(bytes);
  const fields: WireField[] = [];
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    reader.skip(wireType, number);
    fields.push({ number, wireType });
  }
  return fields;
}

/** The wire type a field of this descriptor is written with (packed repeated scalars aside). */
export function expectedWireType(field: DescField): WireType {
  if (field.fieldKind === "message" || field.fieldKind === "map") return WireType.LengthDelimited;
  if (field.fieldKind === "list") return WireType.LengthDelimited; // packed, bytes, strings, messages
  if (field.fieldKind === "enum") return WireType.Varint;
  switch (field.scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

/**
 * Describes every top-level field in `bytes` that `desc` does not declare with that number and
 * wire type, e.g. `"field 9 (wire type 2) unknown"`. Empty when the schema matches the bytes.
 */
export function wireFieldMismatches(desc: DescMessage, bytes: Uint8Array): string[] {
  const problems: string[] = [];
  for (const { number, wireType } of listWireFields(bytes)) {
    const field = desc.fields.find((f) => f.number === number);
    if (field === undefined) {
      problems.push(`field ${number} (wire type ${wireType}) unknown to ${desc.typeName}`);
    } else if (expectedWireType(field) !== wireType) {
      problems.push(
        `field ${number} ${field.name}: wire type ${wireType}, schema expects ${expectedWireType(field)}`,
      );
    }
  }
  return problems;
}

/**
 * Paths (e.g. `"welcome.roster.members[0]"`) of every message, the root included (`"$"`),
 * that holds unknown fields after decoding. Empty when everything decoded into known fields.
 */
export function unknownFieldPaths(desc: DescMessage, message: Message): string[] {
  const paths: string[] = [];
  walk(reflect(desc, message as never), "$", paths);
  return paths;
}

function walk(msg: ReflectMessage, path: string, out: string[]): void {
  const unknown = msg.getUnknown();
  if (unknown !== undefined && unknown.length > 0) out.push(path);
  for (const field of msg.fields) {
    if (!msg.isSet(field)) continue;
    const here = `${path}.${field.localName}`;
    if (field.fieldKind === "message") {
      walk(msg.get(field) as ReflectMessage, here, out);
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      let i = 0;
      for (const item of msg.get(field) as Iterable<ReflectMessage>) walk(item, `${here}[${i++}]`, out);
    } else if (field.fieldKind === "map" && field.mapKind === "message") {
      for (const [k, v] of msg.get(field) as ReadonlyMap<unknown, ReflectMessage>) {
        walk(v, `${here}[${String(k)}]`, out);
      }
    }
  }
}
