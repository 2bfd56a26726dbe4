/**
 * AccountService: challenge-response proof of identity-key ownership, bearer tokens,
 * delivery tokens, sender certificates and account deletion (account.proto,
 * spec/10-relay-api.md API-01..API-05).
 *
 * Owns: the auth message layout and the token lifecycle. Does not own signature verification
 * or certificate encoding (RelayCrypto) or storage (RelayStore).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AccountService,
  CreateChallengeResponseSchema,
  DeleteAccountResponseSchema,
  GetSenderCertificateResponseSchema,
  ProveIdentityResponseSchema,
  SetDeliveryTokenResponseSchema,
} from "../../gen/securecomm/relay/v1/account_pb.js";
import { authenticate, randomSecret, sha256, SECRET_BYTES } from "../auth.js";
import { relayError } from "../errors.js";
import { coarseExpiry, coarseTime } from "../limits.js";
import { keyOf } from "../hub/subscription.js";
import { verifyWork, WORK_NONCE_BYTES } from "./account-work.js";
import { unary, type RelayContext } from "./context.js";
import { HASH_BYTES, MAX_REGISTRATION_ID, requireIdentityKey, requireLength, SIGNATURE_BYTES } from "./validate.js";

/** Domain-separation prefix of the auth signature (spec/10-relay-api.md API-02). */
export const AUTH_SIGNATURE_LABEL = new TextEncoder().encode("SecureComm relay auth v1");

/** The bytes an identity key signs to prove ownership: label ‖ challenge ‖ identity_key (API-02). */
export function authSignatureMessage(challenge: Uint8Array, identityKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(AUTH_SIGNATURE_LABEL.length + challenge.length + identityKey.length);
  out.set(AUTH_SIGNATURE_LABEL, 0);
  out.set(challenge, AUTH_SIGNATURE_LABEL.length);
  out.set(identityKey, AUTH_SIGNATURE_LABEL.length + challenge.length);
  return out;
}

async function rateLimit(pending: ReturnType<RelayContext["rateLimiters"]["challenges"]["take"]>): Promise<void> {
  const decision = await pending;
  if (!decision.allowed) throw relayError("RATE_LIMITED", decision.retryAfterMs);
}

/** The AccountService implementation (spec/10-relay-api.md API-01..API-05). */
export function createAccountService(rc: RelayContext): ServiceImpl<typeof AccountService> {
  return {
    createChallenge: unary(rc, async (req) => {
      requireIdentityKey(req.identityKey);
      const now = rc.now();
      await rateLimit(rc.rateLimiters.challenges.take(keyOf(req.identityKey), now));
      const challenge = randomSecret();
      const expiresAtMs = now + rc.limits.challengeLifetimeMs;
      // API-28: bounded storage; beyond the cap the challenges expiring first are dropped.
      await rc.store.putChallenge(challenge, req.identityKey, expiresAtMs, rc.limits.maxStoredChallenges);
      return create(CreateChallengeResponseSchema, {
        challenge,
        expiresAtMs: BigInt(expiresAtMs),
        workBits: rc.limits.accountCreationWorkBits,
      });
    }),

    proveIdentity: unary(rc, async (req) => {
      requireIdentityKey(req.identityKey);
      requireLength(req.challenge, SECRET_BYTES, "BAD_CHALLENGE");
      requireLength(req.signature, SIGNATURE_BYTES, "BAD_SIGNATURE_LENGTH");
      if (req.registrationId < 1 || req.registrationId > MAX_REGISTRATION_ID) throw relayError("BAD_REGISTRATION_ID");
      if (req.workNonce.length !== 0 && req.workNonce.length !== WORK_NONCE_BYTES) throw relayError("BAD_WORK_NONCE");
      const now = rc.now();
      await rateLimit(rc.rateLimiters.proofs.take(keyOf(req.identityKey), now));
      // Consuming first makes the challenge single-use even when the signature is wrong.
      if (!(await rc.store.consumeChallenge(req.challenge, req.identityKey, now))) throw relayError("BAD_CHALLENGE_PROOF");
      const message = authSignatureMessage(req.challenge, req.identityKey);
      if (!(await rc.crypto.verifyIdentitySignature(req.identityKey, message, req.signature))) throw relayError("BAD_SIGNATURE");
      const address = await rc.crypto.addressFromIdentityKey(req.identityKey);
      // API-28: creating an account costs work; proving an existing one does not.
      const bits = rc.limits.accountCreationWorkBits;
      if (bits > 0 && !verifyWork(req.challenge, req.identityKey, req.workNonce, bits) && !(await rc.store.getAccount(address))) {
        throw relayError("WORK_REQUIRED");
      }
      const { created } = await rc.store.upsertAccount({
        address,
        identityKey: req.identityKey,
        registrationId: req.registrationId,
        // SC-18: stored times are coarse, so they cannot tie this account to a room or a post.
        createdAtMs: coarseTime(now, rc.limits.storedTimeGranularityMs),
      });
      const token = randomSecret();
      const expiresAtMs = coarseExpiry(now, rc.limits.tokenLifetimeMs, rc.limits.storedTimeGranularityMs);
      await rc.store.putToken(sha256(token), address, expiresAtMs);
      if (created) rc.logger.debug("account created");
      return create(ProveIdentityResponseSchema, { address, token, expiresAtMs: BigInt(expiresAtMs), created });
    }),

    setDeliveryToken: unary(rc, async (req, ctx) => {
      const address = await authenticate(ctx.requestHeader, rc.store, rc.now());
      requireLength(req.deliveryTokenHash, HASH_BYTES, "BAD_HASH");
      await rc.store.setDeliveryTokenHash(address, req.deliveryTokenHash);
      return create(SetDeliveryTokenResponseSchema, {});
    }),

    getSenderCertificate: unary(rc, async (_req, ctx) => {
      const now = rc.now();
      const address = await authenticate(ctx.requestHeader, rc.store, now);
      await rateLimit(rc.rateLimiters.senderCertificates.take(keyOf(address), now));
      const account = await rc.store.getAccount(address);
      if (!account) throw relayError("BAD_TOKEN");
      const expiresAtMs = now + rc.limits.senderCertificateLifetimeMs;
      const senderCertificate = await rc.crypto.issueSenderCertificate({
        serverCertificate: rc.trust.serverCertificate,
        serverPrivateKey: rc.trust.serverKey.privateKey,
        senderAddress: address,
        senderIdentityKey: account.identityKey,
        expiresAtMs,
      });
      return create(GetSenderCertificateResponseSchema, { senderCertificate, expiresAtMs: BigInt(expiresAtMs) });
    }),

    deleteAccount: unary(rc, async (_req, ctx) => {
      const address = await authenticate(ctx.requestHeader, rc.store, rc.now());
      await rc.store.deleteAccount(address);
      // Its streams end too, on every process: their token no longer exists.
      rc.feed.accountDeleted(address);
      rc.logger.debug("account deleted");
      return create(DeleteAccountResponseSchema, {});
    }),
  };
}
