/**
 * A faster protobuf binary codec for the persisted records written on every message.
 *
 * Owns: `compileCodec(schema)`, which turns a message descriptor into an encoder and a decoder
 * that produce exactly what protobuf-es's `toBinary` / `fromBinary` produce (the same bytes;
 * deep-equal messages of the same shape, bytes fields viewing the input as protobuf-es's do).
 * Why: the session record (securecomm.storage.v1) is decoded and encoded on every message and
 * carries SPQR's ML-KEM-768 Braid state; protobuf-es's reflective codec (a reflection object
 * per message, a copy of every nested message per level) was ~20 % of a DH-step message
 * (client/crypto/PERFORMANCE.md). This one walks a plan compiled once per schema, sizes the
 * whole message first and writes it into one buffer.
 * Scope: proto3 fields of kinds uint32, uint64, bool, bytes, enum, message and repeated
 * message (what storage.v1 records use). A schema with any other kind does not compile
 * (`undefined`), and a message or input outside the plain cases — unknown fields, a value of
 * an unexpected type or range, a non-minimal or over-long varint, a wire type that does not
 * match the field, a repeated singular message field, truncation — is handed to protobuf-es
 * whole, so its behaviour (result or error) is protobuf-es's by construction
 * (compiled-codec.test.ts checks both paths against protobuf-es).
 * Does not own: which messages use it (client/store/record-codec.ts for the persisted records,
 * client/ratchet/signal-message.ts to encode SignalMessage bodies) or strictness on untrusted
 * network input (proto-strict.ts).
 */

import {
  type DescField,
  type DescMessage,
  fromBinary,
  type MessageShape,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";

/** protobuf-es's presence value for proto3 implicit presence (FeatureSet.FieldPresence.IMPLICIT). */
const IMPLICIT = 2;

const enum Kind {
  Uint32,
  Uint64,
  Bool,
  Bytes,
  Enum,
  Message,
  MessageList,
}

interface FieldPlan {
  readonly name: string;
  readonly number: number;
  readonly kind: Kind;
  /** Wire type the field is written with (0 varint, 2 length-delimited). */
  readonly wireType: 0 | 2;
  /** The tag's varint value: number << 3 | wire type. */
  readonly tag: number;
  readonly tagSize: number;
  /** Explicit presence (proto3 `optional`): written whenever set, even when zero. */
  readonly explicit: boolean;
  /** The nested message's plan (message and repeated message fields). */
  sub: MessagePlan | undefined;
}

interface MessagePlan {
  readonly typeName: string;
  /** Fields by ascending number (protobuf-es writes in that order). */
  readonly fields: FieldPlan[];
  /** Fields by number (sparse). */
  readonly byNumber: Array<FieldPlan | undefined>;
  /** Implicit-presence fields, in declaration order: the zero message's keys. */
  readonly zeroFields: FieldPlan[];
  /** The zero message without its lists, copied per decoded message (one shape for all). */
  template: Fields;
  /** Names of the repeated fields: a fresh empty array each per decoded message. */
  readonly listNames: string[];
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Thrown inside the fast paths for anything they do not handle; the caller uses protobuf-es. */
const FALLBACK = Symbol("compiled-codec fallback");

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 0x800000000) return 5;
  let size = 5;
  let v = Math.floor(n / 0x800000000);
  while (v > 0) {
    size++;
    v = Math.floor(v / 128);
  }
  return size;
}

function compileMessage(desc: DescMessage, plans: Map<DescMessage, MessagePlan>): MessagePlan | undefined {
  const known = plans.get(desc);
  if (known !== undefined) return known;
  const fields: FieldPlan[] = [];
  const plan: MessagePlan = { typeName: desc.typeName, fields, byNumber: [], zeroFields: [], template: {}, listNames: [] };
  plans.set(desc, plan);
  if (desc.oneofs.length > 0) return undefined;
  for (const f of desc.fields) {
    const fp = compileField(f);
    if (fp === undefined) return undefined;
    if (f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message")) {
      const sub = compileMessage(f.message as DescMessage, plans);
      if (sub === undefined) return undefined;
      fp.sub = sub;
    }
    fields.push(fp);
    plan.byNumber[fp.number] = fp;
    if (f.presence === IMPLICIT) plan.zeroFields.push(fp);
  }
  fields.sort((a, b) => a.number - b.number);
  plan.template = zeroTemplate(plan);
  return plan;
}

function compileField(f: DescField): FieldPlan | undefined {
  let kind: Kind;
  switch (f.fieldKind) {
    case "scalar":
      if (f.scalar === ScalarType.UINT32) kind = Kind.Uint32;
      else if (f.scalar === ScalarType.UINT64 && f.longAsString !== true) kind = Kind.Uint64;
      else if (f.scalar === ScalarType.BOOL) kind = Kind.Bool;
      else if (f.scalar === ScalarType.BYTES) kind = Kind.Bytes;
      else return undefined;
      break;
    case "enum":
      kind = Kind.Enum;
      break;
    case "message":
      if (f.delimitedEncoding) return undefined;
      kind = Kind.Message;
      break;
    case "list":
      if (f.listKind !== "message" || f.delimitedEncoding) return undefined;
      kind = Kind.MessageList;
      break;
    default:
      return undefined;
  }
  const wireType = kind === Kind.Bytes || kind === Kind.Message || kind === Kind.MessageList ? 2 : 0;
  const tag = f.number * 8 + wireType;
  const explicit = f.presence !== IMPLICIT && (kind === Kind.Uint32 || kind === Kind.Uint64 || kind === Kind.Bool || kind === Kind.Bytes || kind === Kind.Enum);
  return { name: f.localName, number: f.number, kind, wireType, tag, tagSize: varintSize(tag), explicit, sub: undefined };
}

// ---------------------------------------------------------------------------------------------
// Encoding: a sizing pass (sizes of nested messages recorded in visiting order), then one write.

type Fields = Record<string, unknown>;

function sizeMessage(plan: MessagePlan, msg: Fields, sizes: number[]): number {
  const unknown = msg.$unknown as unknown[] | undefined;
  if (unknown !== undefined && unknown.length > 0) throw FALLBACK;
  let size = 0;
  for (const f of plan.fields) {
    const v = msg[f.name];
    switch (f.kind) {
      case Kind.Uint32:
      case Kind.Enum:
        if (v === undefined && f.explicit) break;
        if (typeof v !== "number" || v >>> 0 !== v || (f.kind === Kind.Enum && v > 0x7fffffff)) throw FALLBACK;
        if (v !== 0 || f.explicit) size += f.tagSize + varintSize(v);
        break;
      case Kind.Uint64:
        if (v === undefined && f.explicit) break;
        // Beyond 2^53 a double cannot size it: left to protobuf-es (the records never get there).
        if (typeof v !== "bigint" || v < 0n || v > MAX_SAFE) throw FALLBACK;
        if (v !== 0n || f.explicit) size += f.tagSize + varintSize(Number(v));
        break;
      case Kind.Bool:
        if (v === undefined && f.explicit) break;
        if (typeof v !== "boolean") throw FALLBACK;
        if (v || f.explicit) size += f.tagSize + 1;
        break;
      case Kind.Bytes:
        if (v === undefined && f.explicit) break;
        if (!(v instanceof Uint8Array)) throw FALLBACK;
        if (v.length > 0 || f.explicit) size += f.tagSize + varintSize(v.length) + v.length;
        break;
      case Kind.Message: {
        if (v === undefined) break;
        if (typeof v !== "object" || v === null) throw FALLBACK;
        const at = sizes.length;
        sizes.push(0);
        const n = sizeMessage(f.sub as MessagePlan, v as Fields, sizes);
        sizes[at] = n;
        size += f.tagSize + varintSize(n) + n;
        break;
      }
      case Kind.MessageList: {
        if (!Array.isArray(v)) throw FALLBACK;
        for (const item of v as unknown[]) {
          if (typeof item !== "object" || item === null) throw FALLBACK;
          const at = sizes.length;
          sizes.push(0);
          const n = sizeMessage(f.sub as MessagePlan, item as Fields, sizes);
          sizes[at] = n;
          size += f.tagSize + varintSize(n) + n;
        }
        break;
      }
    }
  }
  return size;
}

/** Writer state: the output buffer, its position, and the nested sizes in visiting order. */
interface Out {
  readonly buf: Uint8Array;
  pos: number;
  readonly sizes: number[];
  next: number;
}

function writeVarint(o: Out, value: number): void {
  let v = value;
  const buf = o.buf;
  while (v >= 0x80) {
    // Beyond 32 bits `>>> 7` would truncate: divide instead (uint64 values up to 2^53).
    buf[o.pos++] = (v % 128) | 0x80;
    v = v >= 0x100000000 ? Math.floor(v / 128) : v >>> 7;
  }
  buf[o.pos++] = v;
}

function writeMessage(plan: MessagePlan, msg: Fields, o: Out): void {
  for (const f of plan.fields) {
    const v = msg[f.name];
    switch (f.kind) {
      case Kind.Uint32:
      case Kind.Enum:
        if (v === undefined || (v === 0 && !f.explicit)) break;
        writeVarint(o, f.tag);
        writeVarint(o, v as number);
        break;
      case Kind.Uint64:
        if (v === undefined || (v === 0n && !f.explicit)) break;
        writeVarint(o, f.tag);
        writeVarint(o, Number(v as bigint));
        break;
      case Kind.Bool:
        if (v === undefined || (v === false && !f.explicit)) break;
        writeVarint(o, f.tag);
        o.buf[o.pos++] = v ? 1 : 0;
        break;
      case Kind.Bytes: {
        const b = v as Uint8Array | undefined;
        if (b === undefined || (b.length === 0 && !f.explicit)) break;
        writeVarint(o, f.tag);
        writeVarint(o, b.length);
        o.buf.set(b, o.pos);
        o.pos += b.length;
        break;
      }
      case Kind.Message:
        if (v === undefined) break;
        writeVarint(o, f.tag);
        writeVarint(o, o.sizes[o.next++] as number);
        writeMessage(f.sub as MessagePlan, v as Fields, o);
        break;
      case Kind.MessageList:
        for (const item of v as Fields[]) {
          writeVarint(o, f.tag);
          writeVarint(o, o.sizes[o.next++] as number);
          writeMessage(f.sub as MessagePlan, item, o);
        }
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding: the plain cases only; anything else is protobuf-es's to decide.

/** Reader state over the input. */
interface In {
  readonly buf: Uint8Array;
  pos: number;
}

/** A minimal varint of at most `maxBytes` bytes (so its value is exact in a double). */
function readVarint(r: In, end: number, maxBytes: number): number {
  const buf = r.buf;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (r.pos >= end) throw FALLBACK;
    const b = buf[r.pos++] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      // A trailing zero byte (non-minimal encoding) is left to protobuf-es.
      if (b === 0 && i > 0) throw FALLBACK;
      return value;
    }
    scale *= 128;
  }
  throw FALLBACK;
}

/** Empty bytes shared by zero messages: a zero-length view has nothing to change. */
const NO_BYTES = new Uint8Array(0);

/** protobuf-es's zero message (`create(schema)`) with lists left as `[]` placeholders. */
function zeroTemplate(plan: MessagePlan): Fields {
  const msg: Fields = { $typeName: plan.typeName };
  for (const f of plan.zeroFields) {
    switch (f.kind) {
      case Kind.Uint32:
      case Kind.Enum:
        msg[f.name] = 0;
        break;
      case Kind.Uint64:
        msg[f.name] = 0n;
        break;
      case Kind.Bool:
        msg[f.name] = false;
        break;
      case Kind.Bytes:
        msg[f.name] = NO_BYTES;
        break;
      case Kind.MessageList:
        msg[f.name] = [];
        plan.listNames.push(f.name);
        break;
      case Kind.Message:
        break;
    }
  }
  return msg;
}

function zeroMessage(plan: MessagePlan): Fields {
  const msg = { ...plan.template };
  for (const name of plan.listNames) msg[name] = [];
  return msg;
}

function readMessage(plan: MessagePlan, r: In, end: number): Fields {
  const msg = zeroMessage(plan);
  while (r.pos < end) {
    const tag = readVarint(r, end, 5);
    if (tag > 0xffffffff) throw FALLBACK;
    const f = plan.byNumber[Math.floor(tag / 8)];
    if (f === undefined || (tag & 7) !== f.wireType) throw FALLBACK;
    switch (f.kind) {
      case Kind.Uint32: {
        const v = readVarint(r, end, 5);
        if (v > 0xffffffff) throw FALLBACK;
        msg[f.name] = v;
        break;
      }
      case Kind.Enum:
        msg[f.name] = readVarint(r, end, 4);
        break;
      case Kind.Uint64:
        msg[f.name] = BigInt(readVarint(r, end, 7));
        break;
      case Kind.Bool: {
        const v = readVarint(r, end, 1);
        msg[f.name] = v !== 0;
        break;
      }
      case Kind.Bytes: {
        const len = readVarint(r, end, 5);
        if (len > end - r.pos) throw FALLBACK;
        msg[f.name] = r.buf.subarray(r.pos, r.pos + len);
        r.pos += len;
        break;
      }
      case Kind.Message: {
        // A second occurrence merges in protobuf-es: left to it.
        if (msg[f.name] !== undefined) throw FALLBACK;
        const len = readVarint(r, end, 5);
        if (len > end - r.pos) throw FALLBACK;
        msg[f.name] = readMessage(f.sub as MessagePlan, r, r.pos + len);
        break;
      }
      case Kind.MessageList: {
        const len = readVarint(r, end, 5);
        if (len > end - r.pos) throw FALLBACK;
        (msg[f.name] as Fields[]).push(readMessage(f.sub as MessagePlan, r, r.pos + len));
        break;
      }
    }
  }
  return msg;
}

/** An encoder and a decoder equivalent to protobuf-es's for one schema. */
export interface CompiledCodec<Desc extends DescMessage> {
  /** The bytes `toBinary(schema, message)` gives (and its error, if it throws). */
  encode(message: MessageShape<Desc>): Uint8Array;
  /** What `fromBinary(schema, bytes)` gives (and its error, if it throws). */
  decode(bytes: Uint8Array): MessageShape<Desc>;
  /** Whether the last call took the fast path (tests). */
  readonly lastWasFast: boolean;
}

/**
 * Compiles `schema` (see the module header for the field kinds supported); `undefined` when
 * the schema uses anything else, so callers keep protobuf-es for it.
 */
export function compileCodec<Desc extends DescMessage>(schema: Desc): CompiledCodec<Desc> | undefined {
  const plan = compileMessage(schema, new Map());
  if (plan === undefined) return undefined;
  let lastWasFast = false;
  return {
    encode(message) {
      const sizes: number[] = [];
      let size: number;
      try {
        size = sizeMessage(plan, message as unknown as Fields, sizes);
      } catch (e) {
        if (e !== FALLBACK) throw e;
        lastWasFast = false;
        return toBinary(schema, message);
      }
      const o: Out = { buf: new Uint8Array(size), pos: 0, sizes, next: 0 };
      writeMessage(plan, message as unknown as Fields, o);
      lastWasFast = true;
      return o.buf;
    },
    decode(bytes) {
      try {
        const r: In = { buf: bytes, pos: 0 };
        const msg = readMessage(plan, r, bytes.length);
        lastWasFast = true;
        return msg as unknown as MessageShape<Desc>;
      } catch (e) {
        if (e !== FALLBACK) throw e;
        lastWasFast = false;
        return fromBinary(schema, bytes);
      }
    },
    get lastWasFast() {
      return lastWasFast;
    },
  };
}
