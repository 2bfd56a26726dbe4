// The room rules for attachments (spec/09-rooms.md RM-70, RM-73), played by a member who lies:
// valid pointers are shown with the message; a malformed pointer is reported and dropped while
// the rest of the message is shown; more than four pointers drop the whole message; a message
// with neither text nor a valid pointer shows nothing. Pure: applyLogEvent on a RoomRecord.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AttachmentPointerSchema, ContentSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { RoomMemberSchema, RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import { encryptAttachment } from "../attachments/attachment-format.js";
import { applyLogEvent, type EngineEvent } from "./room-core.js";

const key = (n: number) => Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 5 : n));
const SELF = key(1);
const SENDER = key(2);
const room = create(RoomRecordSchema, {
  roomId: new Uint8Array(16).fill(9),
  epoch: 0,
  adminIdentityKey: SELF,
  members: [create(RoomMemberSchema, { identityKey: SELF, displayName: "me" }), create(RoomMemberSchema, { identityKey: SENDER, displayName: "liar" })],
});

async function pointer(overrides: Record<string, unknown> = {}) {
  const e = await encryptAttachment(new Uint8Array(2000).fill(7));
  return create(AttachmentPointerSchema, { blobId: new Uint8Array(32).fill(3), key: e.key, digest: e.digest, size: 2000n, blobSize: BigInt(e.blob.length), fileName: "a.txt", ...overrides });
}

function apply(body: string, attachments: Awaited<ReturnType<typeof pointer>>[]) {
  const content = create(ContentSchema, { roomId: room.roomId, messageId: new Uint8Array(16).fill(4), sentAtMs: 1n, body: { case: "text", value: { body, attachments } } });
  const step = applyLogEvent(room, SELF, { kind: "content", seq: 5n, epoch: 0, postedAtMs: 0n, sender: SENDER, content });
  const events = step.effects.flatMap((e) => (e.type === "emit" ? [e.event] : []));
  return { messages: events.filter((e): e is Extract<EngineEvent, { type: "message" }> => e.type === "message"), reports: events.filter((e) => e.type === "decryption-failed") };
}

describe("room rules for attachments", () => {
  it("RM-70 valid pointers are shown with the message, also without text", async () => {
    const r = apply("", [await pointer(), await pointer({ fileName: "b.txt" })]);
    expect(r.reports).toEqual([]);
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]!.attachments?.map((a) => a.fileName)).toEqual(["a.txt", "b.txt"]);
  });

  it("RM-73 a malformed pointer is reported and dropped; the rest of the message is shown", async () => {
    const r = apply("look", [await pointer(), await pointer({ key: new Uint8Array(16) }), await pointer({ thumbnail: new Uint8Array(10), thumbnailContentType: "text/html" })]);
    expect(r.reports).toHaveLength(1);
    expect(r.messages[0]!.text).toBe("look");
    expect(r.messages[0]!.attachments).toHaveLength(1);
  });

  it("RM-70 more than four pointers drop the whole message (reported); nothing valid to show shows nothing", async () => {
    const five = await Promise.all([1, 2, 3, 4, 5].map(() => pointer()));
    const r = apply("too many", five);
    expect(r.messages).toEqual([]);
    expect(r.reports).toHaveLength(1);
    const empty = apply("", [await pointer({ size: 0n })]);
    expect(empty.messages).toEqual([]);
    expect(empty.reports).toHaveLength(1);
  });
});
