import { Code } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { retryAfterMs } from "../errors.js";
import { DATABASE_FILE } from "../store/sqlite-store.js";
import { expectRelayError, openHarness, randomId, randomKey, registerAccount, type Harness } from "./harness.test-support.js";

let h: Harness;
beforeEach(async () => {
  h = await openHarness({ limits: { maxMailboxEnvelopes: 5 } });
});
afterEach(async () => {
  await h.close();
});

const env = (n: number, size = 40) => {
  const e = new Uint8Array(size).fill(n & 0xff);
  e[0] = 0x11;
  return e;
};

describe("MessageService SendSealed and AckMessages (API-05, API-10, API-15, API-16)", () => {
  it("API-10: an envelope is durable before SendSealed returns (a second connection finds it)", async () => {
    const b = await registerAccount(h);
    const envelope = env(7, 300);
    const res = await h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope });
    expect(Number(res.storedAtMs)).toBe(h.clock.now);
    // A separate connection to the file, opened only after the response, sees the row.
    const db = new Database(join(h.dataDir, DATABASE_FILE), { readonly: true });
    const rows = db.prepare("SELECT address, envelope FROM mailbox").all() as { address: Buffer; envelope: Buffer }[];
    db.close();
    expect(rows.length).toBe(1);
    expect(new Uint8Array(rows[0]!.address)).toEqual(b.address);
    expect(new Uint8Array(rows[0]!.envelope)).toEqual(envelope);
  });

  it("API-05: a wrong delivery token and an unknown recipient are the same permission_denied, storing nothing", async () => {
    const b = await registerAccount(h);
    const wrong = b.deliveryToken.slice();
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    const e1 = await expectRelayError(h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: wrong, envelope: env(1) }), Code.PermissionDenied, "DELIVERY_DENIED");
    const e2 = await expectRelayError(h.messages.sendSealed({ recipientAddress: randomId(), deliveryToken: b.deliveryToken, envelope: env(1) }), Code.PermissionDenied, "DELIVERY_DENIED");
    expect(e1.message).toBe(e2.message);
    // An account with no delivery token set accepts nothing, not even an all-zero token.
    const none = await registerAccount(h, undefined, false);
    await expectRelayError(h.messages.sendSealed({ recipientAddress: none.address, deliveryToken: new Uint8Array(32), envelope: env(1) }), Code.PermissionDenied, "DELIVERY_DENIED");
    await expectRelayError(h.messages.sendSealed({ recipientAddress: none.address, deliveryToken: none.deliveryToken, envelope: env(1) }), Code.PermissionDenied, "DELIVERY_DENIED");
    // A deleted account is an unknown recipient.
    const gone = await registerAccount(h);
    await h.account.deleteAccount({}, { headers: gone.headers });
    await expectRelayError(h.messages.sendSealed({ recipientAddress: gone.address, deliveryToken: gone.deliveryToken, envelope: env(1) }), Code.PermissionDenied, "DELIVERY_DENIED");
    const db = new Database(join(h.dataDir, DATABASE_FILE), { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM mailbox").get() as { n: number }).n).toBe(0);
    db.close();
  });

  it("API-10: malformed sends are invalid_argument", async () => {
    const b = await registerAccount(h);
    const ok = { recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: env(1) };
    await expectRelayError(h.messages.sendSealed({ ...ok, recipientAddress: b.address.slice(1) }), Code.InvalidArgument, "BAD_ADDRESS");
    await expectRelayError(h.messages.sendSealed({ ...ok, deliveryToken: randomKey().slice(1) }), Code.InvalidArgument, "BAD_DELIVERY_TOKEN");
    await expectRelayError(h.messages.sendSealed({ ...ok, envelope: new Uint8Array(0) }), Code.InvalidArgument, "EMPTY_ENVELOPE");
    await expectRelayError(h.messages.sendSealed({ ...ok, envelope: new Uint8Array(65537) }), Code.InvalidArgument, "ENVELOPE_TOO_LARGE");
    await h.messages.sendSealed({ ...ok, envelope: new Uint8Array(65536) });
  });

  it("API-16/API-15: a full mailbox is resource_exhausted with RetryInfo; acks make room; acks are idempotent", async () => {
    const b = await registerAccount(h);
    const send = (n: number) => h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: env(n) });
    await Promise.all([1, 2, 3, 4, 5].map(send));
    const err = await expectRelayError(send(6), Code.ResourceExhausted, "MAILBOX_FULL");
    expect(retryAfterMs(err)).toBeGreaterThan(0);
    const ids = await readMailboxIds(b.address);
    expect(ids.length).toBe(5);
    await h.messages.ackMessages({ ids: [BigInt(ids[0]!), 999_999n] }, { headers: b.headers });
    await h.messages.ackMessages({ ids: [BigInt(ids[0]!)] }, { headers: b.headers });
    await send(6);
    // Another account's ack does not delete this mailbox's envelopes.
    const c = await registerAccount(h);
    await h.messages.ackMessages({ ids: ids.map(BigInt) }, { headers: c.headers });
    expect((await readMailboxIds(b.address)).length).toBe(5);
    await expectRelayError(h.messages.ackMessages({ ids: Array.from({ length: 1001 }, (_, i) => BigInt(i)) }, { headers: b.headers }), Code.InvalidArgument, "TOO_MANY_ACK_IDS");
    await expectRelayError(h.messages.ackMessages({ ids: [1n] }), Code.Unauthenticated, "MISSING_TOKEN");
  });

  it("API-10: sends to one mailbox are rate limited with RetryInfo", async () => {
    await h.close();
    h = await openHarness({ limits: { maxSendsPerMailboxPerMinute: 3 } });
    const b = await registerAccount(h);
    const send = () => h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: env(1) });
    await send();
    await send();
    await send();
    const err = await expectRelayError(send(), Code.ResourceExhausted, "RATE_LIMITED");
    h.clock.now += retryAfterMs(err)!;
    await send();
  });

  it("API-10: concurrent sends are all durable and get distinct increasing ids (group commit)", async () => {
    await h.close();
    h = await openHarness();
    const b = await registerAccount(h);
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: env(i) })));
    const ids = await readMailboxIds(b.address);
    expect(ids.length).toBe(n);
    expect(new Set(ids).size).toBe(n);
    const metrics = h.relay.renderMetrics();
    expect(metrics).toMatch(/securecomm_relay_write_batch_size_count \d+/);
    expect(metrics).toContain('securecomm_relay_envelopes_stored_total{kind="mailbox"} 200');
  });
});

async function readMailboxIds(address: Uint8Array): Promise<number[]> {
  const db = new Database(join(h.dataDir, DATABASE_FILE), { readonly: true });
  const rows = db.prepare("SELECT id FROM mailbox WHERE address = ? ORDER BY id").all(address) as { id: number }[];
  db.close();
  return rows.map((r) => r.id);
}

describe("shutdown", () => {
  it("close() finishes in-flight sends: every acknowledged send is in the file, the rest were refused with unavailable", async () => {
    await h.close();
    h = await openHarness();
    const b = await registerAccount(h);
    await h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: new Uint8Array([0x11, 200]) });
    const sends = Array.from({ length: 50 }, (_, i) =>
      h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: new Uint8Array([0x11, i]) }).then(
        () => ({ i, ok: true as const }),
        (err: unknown) => ({ i, ok: false as const, err }),
      ),
    );
    await new Promise((r) => setImmediate(r));
    await h.relay.close();
    const outcomes = await Promise.all(sends);
    const db = new Database(join(h.dataDir, DATABASE_FILE), { readonly: true });
    const stored = new Set((db.prepare("SELECT envelope FROM mailbox").all() as { envelope: Buffer }[]).map((r) => r.envelope[1]));
    db.close();
    for (const o of outcomes) {
      if (o.ok) expect(stored.has(o.i)).toBe(true);
      else expect((o.err as { code?: number }).code).toBe(Code.Unavailable);
    }
    expect(stored.has(200)).toBe(true);
  });
});
