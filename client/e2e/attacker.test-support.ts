/**
 * What a departed member could still read: tries to decrypt room log events with a copy of
 * that member's state taken just before it departed (the strongest position it can have).
 * Tests only.
 */

import { fromBinary } from "@bufbuild/protobuf";
import type { RoomEvent } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { ContentSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { StateStore } from "../store/state-store.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import { unpad } from "../padding.js";
import { groupDecrypt, senderKeyMessageDistributionId } from "../sender-keys/group-cipher.js";
import { openRoomEnvelope } from "../room/room-keys.js";
import { distOwner, loadRoom } from "../room/room-store.js";
import { RoomSenderKeyStore } from "../room/sender-key-kv.js";
import type { RelayClients } from "../relay/relay-clients.js";
import { accessKey } from "../room/room-keys.js";

/** A byte-for-byte copy of a key-value store. */
export async function snapshotStore(kv: MemoryKeyValueStore): Promise<MemoryKeyValueStore> {
  const copy = new MemoryKeyValueStore();
  await copy.write((await kv.list("")).map(([key, value]) => ({ key, value })));
  return copy;
}

/** Every text a state snapshot can decrypt from `events` of `roomId`. */
export async function readableTexts(snapshot: MemoryKeyValueStore, roomId: Uint8Array, events: RoomEvent[]): Promise<string[]> {
  const state = await StateStore.open(await snapshotStore(snapshot));
  const room = loadRoom(state, roomId);
  if (room === undefined) return [];
  const out: string[] = [];
  for (const ev of events) {
    let body;
    try {
      body = openRoomEnvelope(roomId, ev.envelope, (e) =>
        e === room.epoch ? room.roomSecret : room.previousSecrets.find((p) => p.epoch === e)?.roomSecret,
      ).body;
    } catch {
      continue;
    }
    if (body.body.case !== "senderKeyMessage") continue;
    const skm = body.body.value;
    try {
      const owner = distOwner(state, roomId, senderKeyMessageDistributionId(skm));
      if (owner === undefined) continue;
      const content = await state.transaction(async () =>
        fromBinary(ContentSchema, unpad(await groupDecrypt(new RoomSenderKeyStore(state, roomId), addressToString(addressFromSerializedIdentityKey(owner)), skm))),
      );
      if (content.body.case === "text") out.push(content.body.value.body);
    } catch {
      // not decryptable: exactly what we want for later events
    }
  }
  return out;
}

/** The whole stored log of a room, read with a current member's access key. */
export async function roomLog(clients: RelayClients, roomId: Uint8Array, secret: Uint8Array, epoch: number): Promise<RoomEvent[]> {
  const res = await clients.rooms.getRoomHistory({ roomId, accessKey: accessKey(roomId, secret, epoch), afterSeq: 0n, limit: 500 });
  return res.events;
}
