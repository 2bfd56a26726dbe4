import { readFileSync } from "node:fs";
import * as libsignal from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { PrivateKey } from "../crypto/curve.js";
import { messageKeysFromSeed, messageSeed, nextChainKey } from "./chain.js";
import { groupDecrypt, processSenderKeyDistributionMessage } from "./group-cipher.js";
import { decodeSenderKeyDistribution } from "./messages.js";
import { InMemorySenderKeyStore } from "./sender-key-store.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const v = JSON.parse(readFileSync(new URL("../../spec/vectors/sender-keys.json", import.meta.url), "utf8")) as {
  chainId: number;
  distributionId: string;
  signingPrivateKey: string;
  signingPublicKey: string;
  steps: { iteration: number; chainKey: string; seed: string; iv: string; cipherKey: string }[];
  skdm: string;
  messages: { iteration: number; plaintext: string; message: string }[];
};

class LibsignalSenderKeyStore extends libsignal.SenderKeyStore {
  readonly records = new Map<string, libsignal.SenderKeyRecord>();
  async saveSenderKey(sender: libsignal.ProtocolAddress, d: string, r: libsignal.SenderKeyRecord): Promise<void> {
    this.records.set(`${sender.toString()}/${d}`, r);
  }
  async getSenderKey(sender: libsignal.ProtocolAddress, d: string): Promise<libsignal.SenderKeyRecord | null> {
    return this.records.get(`${sender.toString()}/${d}`) ?? null;
  }
}

describe("sender-key vectors (spec/vectors/sender-keys.json)", () => {
  it("SK-02/SK-03: chain steps, seeds, IVs and keys", () => {
    let ck = hexToBytes(v.steps[0]!.chainKey);
    for (const step of v.steps) {
      expect(bytesToHex(ck)).toBe(step.chainKey);
      const seed = messageSeed(ck);
      expect(bytesToHex(seed)).toBe(step.seed);
      const keys = messageKeysFromSeed(seed);
      expect(bytesToHex(keys.iv)).toBe(step.iv);
      expect(bytesToHex(keys.cipherKey)).toBe(step.cipherKey);
      ck = nextChainKey(ck);
    }
    expect(bytesToHex(PrivateKey.deserialize(hexToBytes(v.signingPrivateKey)).getPublicKey().serialize())).toBe(v.signingPublicKey);
  });

  it("SK-05/SK-06: the pinned SKDM and messages decrypt with ours and with libsignal", async () => {
    const skdm = hexToBytes(v.skdm);
    const d = decodeSenderKeyDistribution(skdm);
    expect(d.chainId).toBe(v.chainId);
    expect(bytesToHex(d.distributionId)).toBe(v.distributionId);
    const ours = new InMemorySenderKeyStore();
    await processSenderKeyDistributionMessage(ours, "sender", skdm);
    const lStore = new LibsignalSenderKeyStore();
    const lAddr = libsignal.ProtocolAddress.new("sender", 1);
    await libsignal.processSenderKeyDistributionMessage(lAddr, libsignal.SenderKeyDistributionMessage.deserialize(ab(skdm)), lStore);
    for (const m of [...v.messages].reverse()) {
      const bytes = hexToBytes(m.message);
      expect(bytesToHex(await groupDecrypt(ours, "sender", bytes))).toBe(m.plaintext);
      expect(bytesToHex(await libsignal.groupDecrypt(lAddr, lStore, ab(bytes)))).toBe(m.plaintext);
    }
  });
});
