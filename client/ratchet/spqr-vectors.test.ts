/**
 * Replays spec/vectors/spqr-braid.json (made against libsignal-client 0.103.0 by
 * generate-spqr-vectors.test-support.ts): from the SPQR auth key and the fixed randomness, our
 * Braid reproduces every message we sent byte for byte, accepts every message libsignal sent,
 * and derives every message key and epoch secret of the conversation (spec PQ-09..PQ-16).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { braidReceive, braidSend, initBraid } from "./spqr-braid.js";
import { parseSpqrMessage, SpqrType } from "./spqr-message.js";

interface BraidVector {
  authKey: string;
  keySeeds: string[];
  encapsMessages: string[];
  epochSecrets: Array<{ epoch: number; secret: string }>;
  messages: Array<{ from: "us" | "libsignal"; spqr: string; key: string }>;
}
const vector = JSON.parse(readFileSync(new URL("../../spec/vectors/spqr-braid.json", import.meta.url), "utf8")) as BraidVector;

describe("SPQR Braid vector made with libsignal (spec PQ-09..PQ-16)", () => {
  it("PQ-12..PQ-16 reproduces our messages, accepts libsignal's, and derives every key and epoch secret", () => {
    let braid = initBraid(hexToBytes(vector.authKey), true);
    const seeds = [...vector.keySeeds];
    const ms = [...vector.encapsMessages];
    const random = {
      keySeed: () => hexToBytes(seeds.shift() ?? ""),
      encapsMessage: () => hexToBytes(ms.shift() ?? ""),
    };
    const secrets: Array<{ epoch: number; secret: string }> = [];
    for (const m of vector.messages) {
      if (m.from === "us") {
        const out = braidSend(braid, true, random);
        expect(bytesToHex(out.message)).toBe(m.spqr);
        expect(bytesToHex(out.key)).toBe(m.key);
        braid = out.braid;
        if (out.newEpoch) secrets.push({ epoch: out.newEpoch.epoch, secret: bytesToHex(out.newEpoch.secret) });
      } else {
        const out = braidReceive(braid, true, hexToBytes(m.spqr));
        expect(bytesToHex(out.key)).toBe(m.key);
        braid = out.braid;
        if (out.newEpoch) secrets.push({ epoch: out.newEpoch.epoch, secret: bytesToHex(out.newEpoch.secret) });
      }
    }
    expect(secrets).toEqual(vector.epochSecrets);
    expect(seeds).toEqual([]);
    expect(ms).toEqual([]);
  });

  it("PQ-09 libsignal's messages use every payload type, and each side moves epochs one at a time", () => {
    const types = new Set(vector.messages.filter((m) => m.from === "libsignal").map((m) => parseSpqrMessage(hexToBytes(m.spqr)).type));
    expect([...types].sort()).toEqual([SpqrType.None, SpqrType.Hdr, SpqrType.Ek, SpqrType.EkCt1Ack, SpqrType.Ct1Ack, SpqrType.Ct1, SpqrType.Ct2].sort());
    for (const from of ["us", "libsignal"] as const) {
      const epochs = vector.messages.filter((m) => m.from === from).map((m) => parseSpqrMessage(hexToBytes(m.spqr)).epoch);
      expect(epochs.every((e, i) => i === 0 || e === epochs[i - 1] || e === (epochs[i - 1] as number) + 1)).toBe(true);
      expect(Math.max(...epochs)).toBeGreaterThanOrEqual(4);
    }
  });
});
