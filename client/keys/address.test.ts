import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { hexToBytes } from "../crypto/bytes.js";
import { KeyPair } from "../crypto/curve.js";
import { addressFromIdentityKey, addressToString, parseAddress } from "./address.js";

describe("ID-03 addresses", () => {
  it("ID-03: address = SHA-256(label ‖ key33)[0..16], computed independently with node:crypto", () => {
    for (let i = 0; i < 10; i++) {
      const pub = KeyPair.generate().publicKey;
      const expected = createHash("sha256")
        .update(Buffer.from("SecureComm address v1", "utf8"))
        .update(pub.serialize())
        .digest()
        .subarray(0, 16);
      expect(Buffer.from(addressFromIdentityKey(pub)).equals(expected)).toBe(true);
    }
  });

  it("ID-03: text form is lower-case hyphenated UUID and round-trips", () => {
    expect(addressToString(hexToBytes("00112233445566778899aabbccddeeff"))).toBe("00112233-4455-6677-8899-aabbccddeeff");
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
        const s = addressToString(a);
        expect(s).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(Array.from(parseAddress(s))).toEqual(Array.from(a));
      }),
    );
  });

  it("ID-03: the parser accepts only lower-case hyphenated form", () => {
    for (const bad of [
      "00112233-4455-6677-8899-AABBCCDDEEFF",
      "00112233445566778899aabbccddeeff",
      "00112233-4455-6677-8899-aabbccddeef",
      "{00112233-4455-6677-8899-aabbccddeeff}",
      " 00112233-4455-6677-8899-aabbccddeeff",
      "",
    ]) {
      let err: unknown;
      try {
        parseAddress(bad);
      } catch (e) {
        err = e;
      }
      expect(isProtocolError(err, "invalid_message")).toBe(true);
    }
  });
});
