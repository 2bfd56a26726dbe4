/**
 * MessageService: sealed-sender sends into mailboxes (delivery-token check, durable before the
 * response), the Subscribe stream, and acknowledgements (messages.proto,
 * spec/10-relay-api.md API-10..API-16).
 *
 * Owns: the send and ack rules. The stream itself lives in ./subscribe.ts.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AckMessagesResponseSchema,
  MessageService,
  SendSealedResponseSchema,
} from "../../gen/securecomm/relay/v1/messages_pb.js";
import { authenticate, constantTimeEqual, SECRET_BYTES, sha256 } from "../auth.js";
import { relayError } from "../errors.js";
import { coarseTime } from "../limits.js";
import { keyOf } from "../hub/subscription.js";
import { serverStream, unary, type RelayContext } from "./context.js";
import { subscribe } from "./subscribe.js";
import { ADDRESS_BYTES, requireEnvelope, requireLength } from "./validate.js";

/** A hash that matches no token, compared against when the recipient has none (uniform timing). */
const NO_TOKEN_HASH = new Uint8Array(32);

/** The MessageService implementation (spec/10-relay-api.md API-10..API-16). */
export function createMessageService(rc: RelayContext): ServiceImpl<typeof MessageService> {
  return {
    sendSealed: unary(rc, async (req) => {
      requireLength(req.recipientAddress, ADDRESS_BYTES, "BAD_ADDRESS");
      requireLength(req.deliveryToken, SECRET_BYTES, "BAD_DELIVERY_TOKEN");
      requireEnvelope(req.envelope, rc.limits.maxEnvelopeBytes);
      // Unknown recipient and wrong token are one answer, so addresses cannot be probed.
      const stored = (await rc.store.getDeliveryTokenHash(req.recipientAddress)) ?? NO_TOKEN_HASH;
      const matches = constantTimeEqual(sha256(req.deliveryToken), stored);
      if (!matches || stored === NO_TOKEN_HASH) throw relayError("DELIVERY_DENIED");
      const now = rc.now();
      const decision = await rc.rateLimiters.mailboxSends.take(keyOf(req.recipientAddress), now);
      if (!decision.allowed) throw relayError("RATE_LIMITED", decision.retryAfterMs);
      // SC-18: the storage time is kept coarse (retention needs no more).
      const storedAtMs = coarseTime(now, rc.limits.storedTimeGranularityMs);
      const result = await rc.store.enqueueMailbox(req.recipientAddress, req.envelope, storedAtMs, rc.limits.maxMailboxEnvelopes, {
        maxBytes: rc.limits.maxMailboxBytes,
        maxTotalBytes: rc.limits.maxStoredBytes,
      });
      if (!result.ok) {
        throw relayError(result.reason === "full" ? "MAILBOX_FULL" : result.reason === "storage_full" ? "STORAGE_FULL" : "DELIVERY_DENIED");
      }
      rc.metrics.envelopesStored.inc({ kind: "mailbox" });
      rc.metrics.envelopeBytes.observe(req.envelope.length, { kind: "mailbox" });
      rc.feed.mailboxStored(req.recipientAddress, { id: result.id, storedAtMs: result.storedAtMs, envelope: req.envelope });
      return create(SendSealedResponseSchema, { storedAtMs: BigInt(result.storedAtMs) });
    }),

    subscribe: serverStream(rc, (req, ctx) => subscribe(rc, req, ctx)),

    ackMessages: unary(rc, async (req, ctx) => {
      const address = await authenticate(ctx.requestHeader, rc.store, rc.now());
      if (req.ids.length > rc.limits.maxAckIds) throw relayError("TOO_MANY_ACK_IDS");
      // Ids beyond 2^53 were never issued; ignoring them keeps acks idempotent.
      const ids = req.ids.filter((id) => id <= BigInt(Number.MAX_SAFE_INTEGER)).map(Number);
      await rc.store.ackMailbox(address, ids);
      return create(AckMessagesResponseSchema, {});
    }),
  };
}
