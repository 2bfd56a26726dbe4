/**
 * The relay side of invites (spec/09-rooms.md RM-50..RM-52, spec/10-relay-api.md API-40):
 * writing a room's invite box and redeeming a link for the room's current secret.
 *
 * Owns: the two RPCs' use, the mapping of their failures to `InviteError`, and the joiner's
 * check that the secret a box holds is the one the relay accepts now (a box written by a member
 * who lies, or not yet re-wrapped after a rotation, is never used silently). Does not own: the
 * box format (invite-box.ts), when boxes are written (the engine), joining (the engine).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/securecomm/relay/v1/errors_pb.js";
import type { RelayClients } from "../relay/relay-clients.js";
import { type BoxedSecret, InviteError, inviteBoxAddressHash, inviteBoxKey, openInviteBox, sealInviteBox } from "./invite-box.js";
import type { ParsedInvite } from "./invite.js";
import { accessKey } from "./room-keys.js";

/**
 * RM-51: a joiner whose box holds a secret the relay refuses reads the box again this many
 * times: the admin writes the new box right after a rotation, so a joiner racing a rotation
 * gets the new secret on the next read.
 */
export const INVITE_BOX_READS = 3;
/** RM-51: pause between those reads; a rotation's box write follows it within a round trip. */
export const INVITE_BOX_RETRY_MS = 700;

const reasonOf = (e: unknown): string | undefined => (e instanceof ConnectError ? e.findDetails(ErrorInfoSchema)[0]?.reason : undefined);

/** RM-51: writes `secret` into the room's box for holders of `inviteSecret` (replacing any box). */
export async function writeInviteBox(clients: RelayClients, roomId: Uint8Array, inviteSecret: Uint8Array, secret: BoxedSecret): Promise<void> {
  await clients.rooms.putInviteBox({
    roomId,
    accessKey: accessKey(roomId, secret.roomSecret, secret.epoch),
    boxAddressHash: inviteBoxAddressHash(roomId, inviteSecret),
    box: sealInviteBox(roomId, inviteSecret, secret),
  });
}

/**
 * RM-51: the room secret and epoch an invite link leads to now, checked against the relay (the
 * access key it yields must be accepted). Throws InviteError: `invite_reset` (no box for this
 * link), `room_not_found`, `invite_unusable` (the box does not open, or keeps holding a secret
 * the relay refuses), `invite_expired` (a link of the old kind whose epoch passed). Other
 * failures (network) pass through unchanged.
 */
export async function redeemInvite(clients: RelayClients, inv: ParsedInvite, sleep: (ms: number) => Promise<void>): Promise<BoxedSecret & { latestSeq: bigint }> {
  if (inv.legacy !== undefined) {
    const probe = await probe1(clients, inv.roomId, inv.legacy);
    if (probe === "refused") throw new InviteError("invite_expired");
    return { ...inv.legacy, latestSeq: probe };
  }
  const inviteSecret = inv.inviteSecret!;
  for (let attempt = 1; ; attempt++) {
    let box: Uint8Array;
    try {
      box = (await clients.rooms.getInviteBox({ roomId: inv.roomId, boxKey: inviteBoxKey(inv.roomId, inviteSecret) })).box;
    } catch (e) {
      if (reasonOf(e) === "INVITE_NOT_FOUND") throw new InviteError("invite_reset", { cause: e });
      if (reasonOf(e) === "ROOM_NOT_FOUND") throw new InviteError("room_not_found", { cause: e });
      throw e;
    }
    const secret = openInviteBox(inv.roomId, inviteSecret, box);
    const probe = await probe1(clients, inv.roomId, secret);
    if (probe !== "refused") return { ...secret, latestSeq: probe };
    if (attempt >= INVITE_BOX_READS) throw new InviteError("invite_unusable");
    await sleep(INVITE_BOX_RETRY_MS);
  }
}

/** The log's latest seq with this secret's access key, or "refused" when the relay refuses it. */
async function probe1(clients: RelayClients, roomId: Uint8Array, secret: BoxedSecret): Promise<bigint | "refused"> {
  try {
    return (await clients.rooms.getRoomHistory({ roomId, accessKey: accessKey(roomId, secret.roomSecret, secret.epoch), afterSeq: 0n, limit: 1 })).latestSeq;
  } catch (e) {
    if (e instanceof ConnectError && e.code === Code.PermissionDenied) return "refused";
    if (reasonOf(e) === "ROOM_NOT_FOUND") throw new InviteError("room_not_found", { cause: e });
    throw e;
  }
}
