/**
 * Decoding a pairwise Content (spec RM-22) with the roster a Welcome carries decoded once per
 * distinct value (RM-08, issue 14).
 *
 * Owns: `decodeContent`, which returns what protobuf-es's `fromBinary(ContentSchema)` returns
 * and throws whenever it throws (content-decode.test.ts checks both against it, malformed
 * input included). Why: every member's Welcome to a joiner carries that
 * member's whole roster (~10 KB at 100 members) and in a settled room they are the same bytes;
 * decoding 99 of them was the one part of joining that grows with the square of the room
 * (client/crypto/PERFORMANCE.md). When the Content has exactly one `welcome` field holding
 * exactly one `roster` field, the rest is decoded as usual and the roster's bytes are decoded
 * once and kept (the last few distinct values, compared byte for byte), each caller getting its
 * own structural copy; any other shape, and any input the scan cannot read, goes to `fromBinary`
 * whole. The roster is still checked by the rules (room-core.ts `applyWelcome`) as before.
 * Does not own: the rules, sealed sender, the session.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { type Content, ContentSchema, type Roster, RosterSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { copyRecord } from "./room-record-copy.js";

/** Content.welcome's field number (content.proto). */
const WELCOME_FIELD = 19;
/** Welcome.roster's field number (content.proto). */
const ROSTER_FIELD = 4;
/** Distinct rosters kept decoded: one room's joins in flight; a few, so memory stays small. */
const KEPT_ROSTERS = 4;

/** Decoded rosters by their bytes, most recent last. */
const kept: Array<{ bytes: Uint8Array; roster: Roster }> = [];

/** A LEN field's span: from its tag to the end of its payload, and the payload. */
interface Span {
  start: number;
  end: number;
  payload: Uint8Array;
}

/** The spans of every occurrence of `field` in `bytes`, or undefined if the bytes do not scan. */
function spansOf(bytes: Uint8Array, field: number): Span[] | undefined {
  const reader = new BinaryReader(bytes);
  const spans: Span[] = [];
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const [no, wireType] = reader.tag();
      if (no !== field) {
        reader.skip(wireType, no);
        continue;
      }
      if (wireType !== WireType.LengthDelimited) return undefined;
      const length = reader.uint32();
      const from = reader.pos;
      if (from + length > reader.len) return undefined;
      reader.pos = from + length;
      spans.push({ start, end: reader.pos, payload: bytes.subarray(from, reader.pos) });
    }
  } catch {
    return undefined;
  }
  return spans;
}

function rosterOf(bytes: Uint8Array): Roster {
  for (const entry of kept) {
    if (entry.bytes.length === bytes.length && entry.bytes.every((b, i) => b === bytes[i])) return copyRecord(entry.roster);
  }
  const roster = fromBinary(RosterSchema, bytes);
  kept.push({ bytes: bytes.slice(), roster: copyRecord(roster) });
  if (kept.length > KEPT_ROSTERS) kept.shift();
  return roster;
}

/** `fromBinary(ContentSchema, bytes)`, decoding a Welcome's roster once per distinct value. */
export function decodeContent(bytes: Uint8Array): Content {
  const welcomes = spansOf(bytes, WELCOME_FIELD);
  if (welcomes === undefined || welcomes.length !== 1) return fromBinary(ContentSchema, bytes);
  const welcome = welcomes[0]!;
  const rosters = spansOf(welcome.payload, ROSTER_FIELD);
  if (rosters === undefined || rosters.length !== 1) return fromBinary(ContentSchema, bytes);
  const roster = rosters[0]!;
  // The Welcome without its roster field, in place of the Welcome as sent.
  const without = new BinaryWriter()
    .raw(welcome.payload.subarray(0, roster.start))
    .raw(welcome.payload.subarray(roster.end))
    .finish();
  const rest = new BinaryWriter()
    .raw(bytes.subarray(0, welcome.start))
    .tag(WELCOME_FIELD, WireType.LengthDelimited)
    .bytes(without)
    .raw(bytes.subarray(welcome.end))
    .finish();
  // Decode the roster first: a malformed one fails as fromBinary would fail on the whole.
  const decodedRoster = rosterOf(roster.payload);
  const content = fromBinary(ContentSchema, rest);
  if (content.body.case === "welcome") content.body.value.roster = decodedRoster;
  return content;
}

/** Forgets the kept rosters (tests). */
export function forgetDecodedRosters(): void {
  kept.length = 0;
}

