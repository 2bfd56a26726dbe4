/**
 * Service logic over an injected store: a store that fails in unexpected ways yields
 * `internal` with a fixed message and no detail of the cause, the failure is logged without
 * identifiers, counted in metrics, and the relay keeps serving.
 */
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import type { RelayStore } from "../store/relay-store.js";
import { expectRelayError, openHarness, registerAccount, type Harness } from "./harness.test-support.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("services over an injected store", () => {
  it("an unexpected store failure is internal, logged without detail, and the relay keeps serving", async () => {
    let failing = false;
    h = await openHarness({
      wrapStore: (inner: RelayStore): RelayStore => ({
        ...inner,
        close: () => inner.close(),
        enqueueMailbox: (...args) => (failing ? Promise.reject(new Error("disk on fire at /secret/path 0xdeadbeef")) : inner.enqueueMailbox(...args)),
      }),
    });
    const b = await registerAccount(h);
    failing = true;
    const err = await expectRelayError(h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: new Uint8Array([0x11]) }), Code.Internal, "INTERNAL");
    expect(err.message).not.toMatch(/fire|secret|deadbeef/);
    const line = h.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "rpc failed");
    expect(line).toMatchObject({ level: "error", method: "SendSealed", error: "Error" });
    expect(h.logLines.join("\n")).not.toMatch(/fire|secret|deadbeef/);
    expect(h.relay.renderMetrics()).toContain('securecomm_relay_rpcs_total{code="Internal",method="SendSealed"} 1');
    failing = false;
    await h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: new Uint8Array([0x11]) });
  });
});
