import { readFileSync } from "node:fs";
import * as libsignal from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { hexToBytes } from "./bytes.js";
import { PublicKey } from "./curve.js";
import { xeddsaVerifyNative, xeddsaVerifyNode, xeddsaVerifyNoble } from "./xeddsa.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const v = JSON.parse(readFileSync(new URL("../../spec/vectors/xeddsa.json", import.meta.url), "utf8")) as {
  cases: { publicKey: string; message: string; signature: string; valid: boolean; note?: string }[];
};

describe("EN-03 XEdDSA vectors (spec/vectors/xeddsa.json)", () => {
  it("EN-03: every case verifies as pinned on every path (noble, WebCrypto, node:crypto), and libsignal agrees", async () => {
    expect(v.cases.length).toBeGreaterThanOrEqual(8);
    for (const c of v.cases) {
      const pub = PublicKey.deserialize(hexToBytes(c.publicKey));
      const msg = hexToBytes(c.message);
      const sig = hexToBytes(c.signature);
      expect([c.note, await pub.verifySignature(msg, sig)]).toEqual([c.note, c.valid]);
      expect(xeddsaVerifyNoble(pub.publicBytes, msg, sig)).toBe(c.valid);
      expect(await xeddsaVerifyNative(pub.publicBytes, msg, sig)).toBe(c.valid);
      expect(xeddsaVerifyNode(pub.publicBytes, msg, sig)).toBe(c.valid);
      expect(libsignal.PublicKey.deserialize(ab(hexToBytes(c.publicKey))).verify(ab(msg), ab(sig))).toBe(c.valid);
    }
  });
});
