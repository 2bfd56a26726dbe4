import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256 } from "../auth.js";
import { retryAfterMs } from "../errors.js";
import { DEFAULT_RELAY_LIMITS } from "../limits.js";
import { expectRelayError, openHarness, randomId, randomKey, registerAccount, type Harness, type TestAccount } from "./harness.test-support.js";
import type { RelayOptions } from "./index.js";

let h: Harness;
let a: TestAccount;
const open = async (options: Partial<RelayOptions> = {}) => {
  h = await openHarness(options);
  a = await registerAccount(h);
};
beforeEach(async () => {
  await open();
});
afterEach(async () => {
  await h.close();
});

async function room() {
  const roomId = randomId();
  const accessKey = randomKey();
  const res = await h.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: a.headers });
  expect(Number(res.createdAtMs)).toBe(h.clock.now);
  return { roomId, accessKey };
}
const env = (n: number) => new Uint8Array([0x01, n & 0xff, n >> 8]);

describe("RoomService (API-17..API-21)", () => {
  it("API-17: CreateRoom needs a token and well-formed ids; a taken id is already_exists", async () => {
    const r = await room();
    await expectRelayError(h.rooms.createRoom({ roomId: r.roomId, accessKeyHash: sha256(randomKey()) }, { headers: a.headers }), Code.AlreadyExists, "ROOM_EXISTS");
    await expectRelayError(h.rooms.createRoom({ roomId: randomId() , accessKeyHash: sha256(randomKey()) }), Code.Unauthenticated, "MISSING_TOKEN");
    await expectRelayError(h.rooms.createRoom({ roomId: randomId().slice(2), accessKeyHash: sha256(randomKey()) }, { headers: a.headers }), Code.InvalidArgument, "BAD_ROOM_ID");
    await expectRelayError(h.rooms.createRoom({ roomId: randomId(), accessKeyHash: randomKey().slice(1) }, { headers: a.headers }), Code.InvalidArgument, "BAD_HASH");
    // The taken room kept its original key.
    await h.rooms.postToRoom({ ...r, envelope: env(1) });
  });

  it("API-17: room creation is rate limited per account", async () => {
    await h.close();
    await open({ limits: { maxRoomsCreatedPerMinute: 2 } });
    await room();
    await room();
    const err = await expectRelayError(h.rooms.createRoom({ roomId: randomId(), accessKeyHash: sha256(randomKey()) }, { headers: a.headers }), Code.ResourceExhausted, "RATE_LIMITED");
    expect(retryAfterMs(err)).toBeGreaterThan(0);
  });

  it("API-18: sequence numbers start at 1 and increase strictly, also under concurrent posts", async () => {
    const r = await room();
    const seqs = await Promise.all(Array.from({ length: 100 }, (_, i) => h.rooms.postToRoom({ ...r, envelope: env(i) })));
    expect(seqs.map((s) => Number(s.seq)).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const other = await room();
    expect((await h.rooms.postToRoom({ ...other, envelope: env(0) })).seq).toBe(1n);
  });

  it("API-18: posting needs the access key and an acceptable envelope; failures store nothing", async () => {
    const r = await room();
    await expectRelayError(h.rooms.postToRoom({ ...r, accessKey: randomKey(), envelope: env(1) }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    await expectRelayError(h.rooms.postToRoom({ roomId: randomId(), accessKey: r.accessKey, envelope: env(1) }), Code.NotFound, "ROOM_NOT_FOUND");
    await expectRelayError(h.rooms.postToRoom({ ...r, envelope: new Uint8Array() }), Code.InvalidArgument, "EMPTY_ENVELOPE");
    await expectRelayError(h.rooms.postToRoom({ ...r, envelope: new Uint8Array(DEFAULT_RELAY_LIMITS.maxEnvelopeBytes + 1) }), Code.InvalidArgument, "ENVELOPE_TOO_LARGE");
    await expectRelayError(h.rooms.postToRoom({ ...r, roomId: r.roomId.slice(1), envelope: env(1) }), Code.InvalidArgument, "BAD_ROOM_ID");
    await expectRelayError(h.rooms.postToRoom({ ...r, accessKey: r.accessKey.slice(1), envelope: env(1) }), Code.InvalidArgument, "BAD_ACCESS_KEY");
    const history = await h.rooms.getRoomHistory({ ...r, afterSeq: 0n });
    expect(history).toMatchObject({ events: [], latestSeq: 0n, oldestSeq: 0n });
  });

  it("API-20: the log cap drops the oldest events; history reports latest and oldest", async () => {
    await h.close();
    await open({ limits: { maxRoomLogEnvelopes: 4 } });
    const r = await room();
    for (let i = 1; i <= 10; i++) await h.rooms.postToRoom({ ...r, envelope: env(i) });
    const history = await h.rooms.getRoomHistory({ ...r, afterSeq: 0n });
    expect(history.events.map((e) => Number(e.seq))).toEqual([7, 8, 9, 10]);
    expect(history.events.map((e) => e.envelope[1])).toEqual([7, 8, 9, 10]);
    expect(history).toMatchObject({ latestSeq: 10n, oldestSeq: 7n });
  });

  it("API-19: PostEphemeral is fanned out only: never stored, no sequence number", async () => {
    const r = await room();
    const res = await h.rooms.postEphemeral({ ...r, envelope: env(9) });
    expect(res.deliveredTo).toBe(0);
    const history = await h.rooms.getRoomHistory({ ...r, afterSeq: 0n });
    expect(history.events).toEqual([]);
    expect(history.latestSeq).toBe(0n);
    await expectRelayError(h.rooms.postEphemeral({ ...r, accessKey: randomKey(), envelope: env(1) }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    await expectRelayError(h.rooms.postEphemeral({ roomId: randomId(), accessKey: r.accessKey, envelope: env(1) }), Code.NotFound, "ROOM_NOT_FOUND");
    await expectRelayError(h.rooms.postEphemeral({ ...r, envelope: new Uint8Array() }), Code.InvalidArgument, "EMPTY_ENVELOPE");
  });

  it("API-20: GetRoomHistory pages by after_seq and limit, capped at max_history_page", async () => {
    await h.close();
    await open({ limits: { maxHistoryPage: 5 } });
    const r = await room();
    for (let i = 1; i <= 12; i++) await h.rooms.postToRoom({ ...r, envelope: env(i) });
    const p1 = await h.rooms.getRoomHistory({ ...r, afterSeq: 0n, limit: 0 });
    expect(p1.events.map((e) => Number(e.seq))).toEqual([1, 2, 3, 4, 5]);
    const p2 = await h.rooms.getRoomHistory({ ...r, afterSeq: 5n, limit: 3 });
    expect(p2.events.map((e) => Number(e.seq))).toEqual([6, 7, 8]);
    const p3 = await h.rooms.getRoomHistory({ ...r, afterSeq: 8n, limit: 1000 });
    expect(p3.events.map((e) => Number(e.seq))).toEqual([9, 10, 11, 12]);
    expect(p3).toMatchObject({ latestSeq: 12n, oldestSeq: 1n });
    const beyond = await h.rooms.getRoomHistory({ ...r, afterSeq: 2n ** 63n });
    expect(beyond.events).toEqual([]);
    await expectRelayError(h.rooms.getRoomHistory({ ...r, accessKey: randomKey(), afterSeq: 0n }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    await expectRelayError(h.rooms.getRoomHistory({ roomId: randomId(), accessKey: r.accessKey, afterSeq: 0n }), Code.NotFound, "ROOM_NOT_FOUND");
  });

  it("API-20: a history page also stops at the response byte budget, always holding at least one event", async () => {
    await h.close();
    await open({ limits: { maxResponseEnvelopeBytes: 10 } });
    const r = await room();
    for (let i = 1; i <= 5; i++) await h.rooms.postToRoom({ ...r, envelope: env(i) });
    const page = await h.rooms.getRoomHistory({ ...r, afterSeq: 0n });
    expect(page.events.map((e) => Number(e.seq))).toEqual([1, 2, 3]);
    expect(page.latestSeq).toBe(5n);
    await h.rooms.postToRoom({ ...r, envelope: new Uint8Array(50).fill(1) });
    const big = await h.rooms.getRoomHistory({ ...r, afterSeq: 5n });
    expect(big.events.map((e) => Number(e.seq))).toEqual([6]);
  });

  it("API-21: rotation replaces the key, a retry is idempotent, and the old key is refused afterwards", async () => {
    const r = await room();
    const newKey = randomKey();
    const rotate = { roomId: r.roomId, accessKey: r.accessKey, newAccessKeyHash: sha256(newKey) };
    await h.rooms.rotateRoomAccessKey(rotate);
    await h.rooms.rotateRoomAccessKey(rotate);
    await expectRelayError(h.rooms.postToRoom({ ...r, envelope: env(1) }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    await h.rooms.postToRoom({ roomId: r.roomId, accessKey: newKey, envelope: env(1) });
    // The old key cannot rotate to anything else.
    await expectRelayError(h.rooms.rotateRoomAccessKey({ ...rotate, newAccessKeyHash: sha256(randomKey()) }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    await expectRelayError(h.rooms.rotateRoomAccessKey({ ...rotate, roomId: randomId() }), Code.NotFound, "ROOM_NOT_FOUND");
    await expectRelayError(h.rooms.rotateRoomAccessKey({ ...rotate, accessKey: newKey, newAccessKeyHash: new Uint8Array(31) }), Code.InvalidArgument, "BAD_HASH");
    await h.rooms.postToRoom({ roomId: r.roomId, accessKey: newKey, envelope: env(2) });
  });

  it("API-18: posts are rate limited per room", async () => {
    await h.close();
    await open({ limits: { maxRoomPostsPerMinute: 3 } });
    const r = await room();
    const other = await room();
    for (let i = 0; i < 3; i++) await h.rooms.postToRoom({ ...r, envelope: env(i) });
    const err = await expectRelayError(h.rooms.postEphemeral({ ...r, envelope: env(9) }), Code.ResourceExhausted, "RATE_LIMITED");
    expect(retryAfterMs(err)).toBeGreaterThan(0);
    await h.rooms.postToRoom({ ...other, envelope: env(1) });
  });

  it("API-20/API-16: retention: events older than room retention and mailbox envelopes older than mailbox retention are swept", async () => {
    const r = await room();
    await h.rooms.postToRoom({ ...r, envelope: env(1) });
    await h.messages.sendSealed({ recipientAddress: a.address, deliveryToken: a.deliveryToken, envelope: new Uint8Array([0x11]) });
    h.clock.now += DEFAULT_RELAY_LIMITS.roomRetentionMs - 1;
    await h.rooms.postToRoom({ ...r, envelope: env(2) });
    h.clock.now += 2;
    const first = await h.relay.sweep();
    expect(first.roomEvents).toBe(1);
    expect(first.mailboxEnvelopes).toBe(0);
    const history = await h.rooms.getRoomHistory({ ...r, afterSeq: 0n });
    expect(history).toMatchObject({ latestSeq: 2n, oldestSeq: 2n });
    h.clock.now += DEFAULT_RELAY_LIMITS.mailboxRetentionMs;
    const second = await h.relay.sweep();
    expect(second).toMatchObject({ roomEvents: 1, mailboxEnvelopes: 1 });
    // The room itself stays, so sequence numbers never restart behind members' cursors.
    const after = await h.rooms.getRoomHistory({ ...r, afterSeq: 0n });
    expect(after).toMatchObject({ events: [], latestSeq: 2n, oldestSeq: 0n });
    expect((await h.rooms.postToRoom({ ...r, envelope: env(3) })).seq).toBe(3n);
    expect(h.relay.renderMetrics()).toContain('securecomm_relay_retention_swept_total{kind="roomEvents"} 2');
  });
});

describe("RoomService invite boxes (API-40)", () => {
  it("API-40: only the current access key writes; only the box key reads; a put replaces the box; rotation keeps it", async () => {
    const r = await room();
    const boxKey = randomKey();
    const box = new Uint8Array(80).fill(7);
    // Nothing stored yet: a joiner is told the link does not lead anywhere (not a silent empty box).
    await expectRelayError(h.rooms.getInviteBox({ roomId: r.roomId, boxKey }), Code.NotFound, "INVITE_NOT_FOUND");
    await expectRelayError(h.rooms.putInviteBox({ roomId: r.roomId, accessKey: randomKey(), boxAddressHash: sha256(boxKey), box }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    await expectRelayError(h.rooms.getInviteBox({ roomId: r.roomId, boxKey }), Code.NotFound, "INVITE_NOT_FOUND");
    await h.rooms.putInviteBox({ ...r, boxAddressHash: sha256(boxKey), box });
    expect((await h.rooms.getInviteBox({ roomId: r.roomId, boxKey })).box).toEqual(box);
    // The address hash itself is not a key: presenting it (what a database leak would give) finds nothing.
    await expectRelayError(h.rooms.getInviteBox({ roomId: r.roomId, boxKey: sha256(boxKey) }), Code.NotFound, "INVITE_NOT_FOUND");
    // Rotation: the old access key can no longer write; the new one can; the box stays readable.
    const next = randomKey();
    await h.rooms.rotateRoomAccessKey({ ...r, newAccessKeyHash: sha256(next) });
    await expectRelayError(h.rooms.putInviteBox({ ...r, boxAddressHash: sha256(randomKey()), box }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    expect((await h.rooms.getInviteBox({ roomId: r.roomId, boxKey })).box).toEqual(box);
    // Reset: a box under a new key replaces the old one, whose key now finds nothing.
    const newKey = randomKey();
    const newBox = new Uint8Array(80).fill(9);
    await h.rooms.putInviteBox({ roomId: r.roomId, accessKey: next, boxAddressHash: sha256(newKey), box: newBox });
    await expectRelayError(h.rooms.getInviteBox({ roomId: r.roomId, boxKey }), Code.NotFound, "INVITE_NOT_FOUND");
    expect((await h.rooms.getInviteBox({ roomId: r.roomId, boxKey: newKey })).box).toEqual(newBox);
  });

  it("API-40: malformed requests are invalid_argument and change nothing; unknown rooms are not_found", async () => {
    const r = await room();
    const boxKey = randomKey();
    const box = new Uint8Array(80).fill(7);
    await h.rooms.putInviteBox({ ...r, boxAddressHash: sha256(boxKey), box });
    await expectRelayError(h.rooms.putInviteBox({ ...r, boxAddressHash: sha256(boxKey), box: new Uint8Array(0) }), Code.InvalidArgument, "BAD_INVITE_BOX");
    await expectRelayError(h.rooms.putInviteBox({ ...r, boxAddressHash: sha256(boxKey), box: new Uint8Array(257) }), Code.InvalidArgument, "BAD_INVITE_BOX");
    await expectRelayError(h.rooms.putInviteBox({ ...r, boxAddressHash: new Uint8Array(31), box }), Code.InvalidArgument, "BAD_HASH");
    await expectRelayError(h.rooms.putInviteBox({ ...r, roomId: r.roomId.slice(1), boxAddressHash: sha256(boxKey), box }), Code.InvalidArgument, "BAD_ROOM_ID");
    await expectRelayError(h.rooms.getInviteBox({ roomId: r.roomId, boxKey: boxKey.slice(1) }), Code.InvalidArgument, "BAD_BOX_KEY");
    await expectRelayError(h.rooms.getInviteBox({ roomId: randomId(), boxKey }), Code.NotFound, "ROOM_NOT_FOUND");
    await expectRelayError(h.rooms.putInviteBox({ roomId: randomId(), accessKey: r.accessKey, boxAddressHash: sha256(boxKey), box }), Code.NotFound, "ROOM_NOT_FOUND");
    expect((await h.rooms.getInviteBox({ roomId: r.roomId, boxKey })).box).toEqual(box);
  });
});
