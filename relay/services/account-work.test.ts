// API-28: account creation costs a proof of work, against a real relay over HTTP/1.1 and h2c
// with a real SQLite file. The attacker tries no work, work for another challenge, work for
// another key and a wrong-length nonce; the honest client's solver (client/account/work.ts)
// is checked against the relay's verifier.

import { Code } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { PrivateKey } from "@signalapp/libsignal-client";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { solveWork, workHash } from "../../client/account/work.js";
import { startTestRelay, type TestRelay } from "../testing/test-relay.js";
import { authSignatureMessage } from "./account-service.js";
import { leadingZeroBits, verifyWork, WORK_NONCE_BYTES } from "./account-work.js";
import { ab, clientsFor, expectRelayError, type Clients } from "./harness.test-support.js";

const BITS = 10;
let relay: TestRelay;
let free: TestRelay;
const transports: Record<string, (url: string) => Parameters<typeof clientsFor>[0]> = {
  "Connect over HTTP/1.1": (url) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
  "gRPC over h2c": (url) => createGrpcTransport({ baseUrl: url }),
};

beforeAll(async () => {
  relay = await startTestRelay({ limits: { accountCreationWorkBits: BITS } });
  free = await startTestRelay();
});
afterAll(async () => {
  await relay.close();
  await free.close();
});

function identity(): { key: PrivateKey; identityKey: Uint8Array } {
  const key = PrivateKey.generate();
  return { key, identityKey: new Uint8Array(key.getPublicKey().serialize()) };
}

async function prove(c: Clients, id: ReturnType<typeof identity>, nonce?: (challenge: Uint8Array) => Promise<Uint8Array>) {
  const ch = await c.account.createChallenge({ identityKey: id.identityKey });
  const signature = id.key.sign(ab(authSignatureMessage(ch.challenge, id.identityKey)));
  const workNonce = nonce ? await nonce(ch.challenge) : new Uint8Array(0);
  return c.account.proveIdentity({ identityKey: id.identityKey, challenge: ch.challenge, signature, registrationId: 7, workNonce });
}

describe("API-28 proof of work for account creation", () => {
  for (const [name, make] of Object.entries(transports)) {
    it(`${name}: a new key without work is refused and nothing is created; with work it is created; re-proving needs none`, async () => {
      const c = clientsFor(make(relay.url));
      const id = identity();
      expect((await c.account.createChallenge({ identityKey: id.identityKey })).workBits).toBe(BITS);
      await expectRelayError(prove(c, id), Code.FailedPrecondition, "WORK_REQUIRED");
      // A nonce that is valid for some other challenge (replayed work) does not count.
      const other = await c.account.createChallenge({ identityKey: id.identityKey });
      const stale = await solveWork(other.challenge, id.identityKey, BITS);
      await expectRelayError(prove(c, id, async () => stale), Code.FailedPrecondition, "WORK_REQUIRED");
      // Work done for another identity key on this very challenge does not count either.
      const mallory = identity();
      await expectRelayError(prove(c, id, (ch) => solveWork(ch, mallory.identityKey, BITS)), Code.FailedPrecondition, "WORK_REQUIRED");
      await expectRelayError(prove(c, id, async () => new Uint8Array(7)), Code.InvalidArgument, "BAD_WORK_NONCE");
      const created = await prove(c, id, (ch) => solveWork(ch, id.identityKey, BITS));
      expect(created.created).toBe(true); // so none of the refused proofs created it
      const again = await prove(c, id);
      expect(again.created).toBe(false);
    });
  }

  it("a relay on loopback asks for no work by default", async () => {
    const c = clientsFor(createConnectTransport({ baseUrl: free.url, httpVersion: "1.1" }));
    const id = identity();
    expect((await c.account.createChallenge({ identityKey: id.identityKey })).workBits).toBe(0);
    expect((await prove(c, id)).created).toBe(true);
  });

  it("the client's solver and the relay's verifier agree (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 8 }), async (challenge, bits) => {
        const { identityKey } = identity();
        const nonce = await solveWork(challenge, identityKey, bits);
        expect(nonce.length).toBe(WORK_NONCE_BYTES);
        expect(verifyWork(challenge, identityKey, nonce, bits)).toBe(true);
        expect(leadingZeroBits(workHash(challenge, identityKey, nonce))).toBeGreaterThanOrEqual(bits);
        // The verifier is not trivially true: the same nonce almost surely falls short of 40 bits.
        expect(verifyWork(challenge, identityKey, nonce, 40)).toBe(false);
      }),
      { numRuns: 20 },
    );
  });
});
