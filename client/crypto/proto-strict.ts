/**
 * Strict protobuf decoding of untrusted input (spec EN-04, EN-05).
 *
 * Owns: `decodeStrict(schema, bytes)`, which rejects what protobuf-es's lenient decoder lets
 * through: a known field with the wrong wire type (protobuf-es reads a known field by its
 * declared type whatever the tag's wire type says, so e.g. tag 0x0b decodes like 0x0a), group
 * wire types, and any decoder failure (truncation, invalid UTF-8), all as
 * `ProtocolError("invalid_message")`. Unknown fields are accepted and ignored (EN-04) unless
 * the caller asks for an exact shape (every field known, each non-repeated field at most once),
 * as the ratchet does for its unauthenticated PreKey fields (PX-08). It recurses into
 * message-typed fields. Does not own: required-field and length checks (each
 * format's decoder does those, EN-05).
 */
import { fromBinary, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { ProtocolError } from "../errors.js";

/** Nesting bound: our formats nest at most 3 deep; this stops hostile recursion early. */
const MAX_DEPTH = 16;

function scalarWireType(t: ScalarType): WireType {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    default:
      return WireType.Varint;
  }
}

/** Options of {@link decodeStrict}. */
export interface StrictOptions {
  /** Reject unknown fields and non-repeated fields that appear more than once. */
  readonly exact?: boolean;
}

function check(desc: DescMessage, bytes: Uint8Array, depth: number, exact: boolean): void {
  if (depth > MAX_DEPTH) throw new ProtocolError("invalid_message");
  const reader = new BinaryReader(bytes);
  const seen = new Set<number>();
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (wireType === WireType.StartGroup || wireType === WireType.EndGroup) throw new ProtocolError("invalid_message");
    const field: DescField | undefined = desc.fields.find((f) => f.number === number);
    const data = reader.skip(wireType, number);
    if (field === undefined) {
      if (exact) throw new ProtocolError("invalid_message");
      continue;
    }
    if (exact && field.fieldKind !== "list" && field.fieldKind !== "map") {
      if (seen.has(number)) throw new ProtocolError("invalid_message");
      seen.add(number);
    }
    switch (field.fieldKind) {
      case "scalar":
        if (wireType !== scalarWireType(field.scalar)) throw new ProtocolError("invalid_message");
        break;
      case "enum":
        if (wireType !== WireType.Varint) throw new ProtocolError("invalid_message");
        break;
      case "message":
        if (wireType !== WireType.LengthDelimited) throw new ProtocolError("invalid_message");
        check(field.message, lengthDelimitedContent(data), depth + 1, exact);
        break;
      case "list":
        if (field.listKind === "message") {
          if (wireType !== WireType.LengthDelimited) throw new ProtocolError("invalid_message");
          check(field.message, lengthDelimitedContent(data), depth + 1, exact);
        } else {
          const element = field.listKind === "enum" ? WireType.Varint : scalarWireType(field.scalar);
          // Packed (length-delimited) or one element at a time.
          if (wireType !== element && wireType !== WireType.LengthDelimited) throw new ProtocolError("invalid_message");
        }
        break;
      case "map":
        if (wireType !== WireType.LengthDelimited) throw new ProtocolError("invalid_message");
        break;
    }
  }
}

/** `skip` returns the whole length-delimited element including its length prefix. */
function lengthDelimitedContent(data: Uint8Array): Uint8Array {
  const r = new BinaryReader(data);
  return r.bytes();
}

/**
 * Decodes untrusted `bytes` as `schema`, rejecting wrong wire types for known fields and any
 * malformed input with `ProtocolError("invalid_message")` (spec EN-04).
 */
export function decodeStrict<Desc extends DescMessage>(
  schema: Desc,
  bytes: Uint8Array,
  options: StrictOptions = {},
): MessageShape<Desc> {
  try {
    check(schema, bytes, 0, options.exact ?? false);
    return fromBinary(schema, bytes);
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError("invalid_message");
  }
}
