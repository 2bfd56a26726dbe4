import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { bytesToHex } from "../crypto/bytes.js";
import { KeyPair } from "../crypto/curve.js";
import {
  decodeSenderKeyDistribution,
  decodeSenderKeyMessage,
  encodeSenderKeyDistribution,
  encodeSenderKeyMessage,
} from "./messages.js";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isProtocolError(e) ? e.code : `other: ${String(e)}`;
  }
  return undefined;
}

const signer = KeyPair.generate();
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe("SK-05/SK-06 formats", () => {
  it("SK-05: decode ∘ encode = id for SenderKeyMessage, signature over version ‖ body (property)", () => {
    fc.assert(
      fc.property(bytes(16), fc.nat(0x7fffffff), fc.nat(), fc.integer({ min: 1, max: 8 }), (distributionId, chainId, iteration, blocks) => {
        const ciphertext = new Uint8Array(16 * blocks).fill(3);
        const m = encodeSenderKeyMessage({ distributionId, chainId, iteration, ciphertext }, signer.privateKey);
        const d = decodeSenderKeyMessage(m);
        expect([bytesToHex(d.distributionId), d.chainId, d.iteration, bytesToHex(d.ciphertext)]).toEqual([bytesToHex(distributionId), chainId, iteration, bytesToHex(ciphertext)]);
        expect(bytesToHex(d.signedBytes)).toBe(bytesToHex(m.subarray(0, m.length - 64)));
        expect(d.signedBytes[0]).toBe(0x33);
      }),
      { numRuns: 50 },
    );
  });

  it("SK-06: decode ∘ encode = id for SenderKeyDistributionMessage (property)", () => {
    fc.assert(
      fc.property(bytes(16), fc.nat(0x7fffffff), fc.nat(), bytes(32), (distributionId, chainId, iteration, chainKey) => {
        const d = decodeSenderKeyDistribution(encodeSenderKeyDistribution({ distributionId, chainId, iteration, chainKey, signingKey: signer.publicKey }));
        expect([bytesToHex(d.distributionId), d.chainId, d.iteration, bytesToHex(d.chainKey)]).toEqual([bytesToHex(distributionId), chainId, iteration, bytesToHex(chainKey)]);
        expect(d.signingKey.equals(signer.publicKey)).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it("SK-05/SK-06: required fields and lengths are enforced", () => {
    const ct = new Uint8Array(16);
    const ok = { distributionId: new Uint8Array(16), chainId: 1, iteration: 0, ciphertext: ct };
    expect(codeOf(() => decodeSenderKeyMessage(encodeSenderKeyMessage({ ...ok, distributionId: new Uint8Array(15) }, signer.privateKey)))).toBe("invalid_message");
    expect(codeOf(() => decodeSenderKeyMessage(encodeSenderKeyMessage({ ...ok, ciphertext: new Uint8Array(17) }, signer.privateKey)))).toBe("invalid_message");
    expect(codeOf(() => decodeSenderKeyMessage(encodeSenderKeyMessage({ ...ok, ciphertext: new Uint8Array(0) }, signer.privateKey)))).toBe("invalid_message");
    const skdm = { distributionId: new Uint8Array(16), chainId: 1, iteration: 0, chainKey: new Uint8Array(32), signingKey: signer.publicKey };
    expect(codeOf(() => decodeSenderKeyDistribution(encodeSenderKeyDistribution({ ...skdm, chainKey: new Uint8Array(31) })))).toBe("invalid_message");
    expect(codeOf(() => decodeSenderKeyDistribution(new Uint8Array([0x33])))).toBe("invalid_message");
    expect(codeOf(() => decodeSenderKeyDistribution(new Uint8Array([0x22, 0x0a])))).toBe("invalid_version");
  });

  it("EN-04: random input gives only typed errors (property)", () => {
    const allowed = ["invalid_message", "invalid_version", "invalid_key", undefined];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (raw, versioned) => {
        const input = versioned ? new Uint8Array([0x33, ...raw]) : raw;
        expect(allowed).toContain(codeOf(() => decodeSenderKeyMessage(input)));
        expect(allowed).toContain(codeOf(() => decodeSenderKeyDistribution(input)));
      }),
      { numRuns: 400 },
    );
  });
});
