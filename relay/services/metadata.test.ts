/**
 * Metadata discipline (DESIGN §5): after a run that exercises every service, successes and
 * failures alike, neither the logs (at debug level) nor the metrics contain any identity key,
 * address, token, delivery token, room id, access key or envelope, in hex, base64 or
 * base64url.
 */
import { describe, expect, it } from "vitest";
import { sha256 } from "../auth.js";
import { makePreKeys, openHarness, randomId, randomKey, registerAccount } from "./harness.test-support.js";

function encodings(b: Uint8Array): string[] {
  const buf = Buffer.from(b);
  // Any 12-byte window is long enough to be unambiguous and short enough to catch partial dumps.
  const out = [buf.toString("hex"), buf.toString("base64"), buf.toString("base64url")];
  for (let i = 0; i + 12 <= buf.length; i += 12) {
    const w = buf.subarray(i, i + 12);
    out.push(w.toString("hex"), w.toString("base64").slice(0, 16), w.toString("base64url").slice(0, 16));
  }
  return out;
}

describe("metadata discipline (API-26)", () => {
  it("logs and metrics hold no identifiers, keys, tokens or envelopes", async () => {
    const h = await openHarness({ logLevel: "debug" });
    try {
      const a = await registerAccount(h);
      const b = await registerAccount(h);
      const secrets: Uint8Array[] = [a.identityKey, b.identityKey, a.address, b.address, a.token, b.token, a.deliveryToken, b.deliveryToken];
      await h.keys.uploadPreKeys(makePreKeys(b.identity, { oneTime: 2, kyber: 1 }), { headers: b.headers });
      await h.keys.fetchPreKeyBundle({ address: b.address }, { headers: a.headers });
      await h.account.getSenderCertificate({}, { headers: a.headers });
      const envelope = crypto.getRandomValues(new Uint8Array(200));
      envelope[0] = 0x11;
      secrets.push(envelope);
      await h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope });
      const roomId = randomId();
      const accessKey = randomKey();
      secrets.push(roomId, accessKey);
      await h.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: a.headers });
      const roomEnvelope = crypto.getRandomValues(new Uint8Array(120));
      secrets.push(roomEnvelope);
      await h.rooms.postToRoom({ roomId, accessKey, envelope: roomEnvelope });
      await h.rooms.postEphemeral({ roomId, accessKey, envelope: roomEnvelope });
      const abort = new AbortController();
      const it = h.messages.subscribe({ rooms: [{ roomId, accessKey, afterSeq: 0n }] }, { headers: b.headers, signal: abort.signal })[Symbol.asyncIterator]();
      for (;;) if ((await it.next()).value?.event.case === "caughtUp") break;
      abort.abort();
      // Failures too.
      const failures = [
        h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: a.deliveryToken, envelope }),
        h.rooms.postToRoom({ roomId, accessKey: a.deliveryToken, envelope }),
        h.account.setDeliveryToken({ deliveryTokenHash: a.token }, { headers: { authorization: `Bearer ${Buffer.from(a.deliveryToken).toString("base64url")}` } }),
        h.keys.fetchPreKeyBundle({ address: a.address.slice(1) }, { headers: a.headers }),
      ];
      for (const f of failures) await f.catch(() => undefined);
      await h.account.deleteAccount({}, { headers: a.headers });
      await h.relay.close();

      const text = h.logLines.join("\n") + "\n" + h.relay.renderMetrics();
      expect(h.logLines.length).toBeGreaterThan(0);
      for (const s of secrets) for (const e of encodings(s)) expect(text.includes(e), "an identifier leaked into logs or metrics").toBe(false);
      for (const line of h.logLines) expect(() => JSON.parse(line)).not.toThrow();
    } finally {
      await h.close();
    }
  });
});
