/**
 * Room settings end to end (spec/09-rooms.md RM-54): disappearing messages set by any member,
 * applied by every member in log order (the setter included), handed to joiners with the
 * roster, and out-of-range values ignored. Real clients, real relay.
 */
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { RoomSettingsSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import type { ClientEvents } from "../app/securecomm-client.js";
import { newClient, type TestClient, waitFor, waitForRoster } from "./harness.test-support.js";

let relay: TestRelay;
const clients: TestClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.client.close()));
  await relay.close();
}, 60_000);

async function open(...names: string[]): Promise<Array<TestClient & { settings: Array<ClientEvents["settings-changed"]> }>> {
  const out = await Promise.all(names.map((n) => newClient(relay.url, n)));
  clients.push(...out);
  return out.map((c) => {
    const settings: Array<ClientEvents["settings-changed"]> = [];
    c.client.on("settings-changed", (e) => settings.push(e));
    return Object.assign(c, { settings });
  });
}

const retentionOf = (c: TestClient, roomId: string) => c.client.rooms().find((r) => r.roomId === roomId)?.retentionSeconds;

describe("room settings (RM-54)", () => {
  it("RM-54: any member sets disappearing messages; every member applies it in log order, concurrent settings converge, joiners inherit it", async () => {
    const [alice, bob, carol, dave] = await open("alice-s", "bob-s", "carol-s", "dave-s");
    const { roomId, inviteLink } = await alice!.client.createRoom("settings");
    await bob!.client.joinRoom(inviteLink);
    await carol!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, carol!], roomId, 3);

    // bob (not the admin) sets one day: everyone, bob too, applies it and sees who set it.
    await bob!.client.setRoomRetention(roomId, 86_400);
    await waitFor(() => [alice!, bob!, carol!].every((c) => retentionOf(c, roomId) === 86_400), "one day everywhere");
    expect(alice!.settings.at(-1)).toMatchObject({ roomId, sender: bob!.address, senderName: "bob-s", own: false, retentionSeconds: 86_400 });
    expect(bob!.settings.at(-1)).toMatchObject({ own: true, retentionSeconds: 86_400 });

    // Two members set different values at once: all end with the one the relay ordered last.
    await Promise.all([alice!.client.setRoomRetention(roomId, 3_600), carol!.client.setRoomRetention(roomId, 604_800)]);
    await waitFor(() => [alice!, bob!, carol!].every((c) => c.settings.length >= 3), "both settings seen");
    const last = bob!.settings.at(-1)!;
    await waitFor(() => [alice!, bob!, carol!].every((c) => retentionOf(c, roomId) === last.retentionSeconds), "the same setting everywhere");
    for (const c of [alice!, carol!]) expect(c.settings.at(-1)!.seq).toBe(last.seq);

    // A joiner takes the setting from its inviter's roster.
    await dave!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, carol!, dave!], roomId, 4);
    expect(retentionOf(dave!, roomId)).toBe(last.retentionSeconds);

    // A member posting an absurd value (ten years) changes nothing anywhere.
    const before = last.retentionSeconds;
    const engine = carol!.client.engine as unknown as { post(roomId: string, content: unknown, ephemeral: boolean): Promise<unknown>; content(roomId: Uint8Array, body: unknown): unknown };
    const room = carol!.client.engine.room(roomId);
    await engine.post(roomId, engine.content(room.roomId, { case: "roomSettings", value: create(RoomSettingsSchema, { retentionSeconds: 10 * 365 * 86_400 }) }), false);
    await carol!.client.sendText(roomId, "marker after the absurd setting");
    await waitFor(() => [alice!, bob!, dave!].every((c) => c.messages.some((m) => m.text === "marker after the absurd setting")), "marker everywhere");
    for (const c of [alice!, bob!, carol!, dave!]) expect(retentionOf(c, roomId)).toBe(before);
    // Only through the API's own bounds: the client refuses to send it at all.
    await expect(alice!.client.setRoomRetention(roomId, -1)).rejects.toThrow(RangeError);
  });
});
