/**
 * Building and reading the `Content` a member sends (spec RM-07, RM-31, SK-04).
 *
 * Owns: message ids (RM-07), wrapping a body in `Content` with room id, message id and send
 * time, the SenderKeyDistribution body (RM-08, RM-12), and decoding padded plaintext into
 * `Content`. Does not own: encryption (sender-keys, pairwise.ts), when content is sent (the
 * driver, room-engine.ts). Pure: the clock and randomness come in as arguments or defaults.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { type Content, ContentSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { randomBytes } from "../crypto/bytes.js";
import { unpad } from "../padding.js";

/** Message ids are 16 random bytes (RM-07). */
export const MESSAGE_ID_LENGTH = 16;

/** A `Content` of `roomId` with `body`, sent at `nowMs` (RM-31: every field set). */
export function newContent(roomId: Uint8Array, body: Content["body"], nowMs: number, messageId: Uint8Array = randomBytes(MESSAGE_ID_LENGTH)): Content {
  return create(ContentSchema, { roomId, messageId, sentAtMs: BigInt(nowMs), body });
}

/** The body carrying a SenderKeyDistributionMessage (RM-08 answers, RM-12 rotations). */
export function skdmBody(skdm: Uint8Array): Content["body"] {
  return { case: "senderKeyDistribution", value: { $typeName: "securecomm.wire.v1.SenderKeyDistribution", distributionMessage: skdm } };
}

/** Decodes decrypted, padded plaintext into `Content` (throws on bad padding or bytes). */
export function decodePadded(padded: Uint8Array): Content {
  return fromBinary(ContentSchema, unpad(padded));
}
