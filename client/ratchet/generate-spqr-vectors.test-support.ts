/**
 * Generator (run by hand, never imported by product code) of spec/vectors/spqr-braid.json:
 *
 *   node --import tsx client/ratchet/generate-spqr-vectors.test-support.ts
 *
 * Runs a session between our side (the initiator, built from PQXDH so its SPQR auth key is
 * known, with fixed Braid randomness) and libsignal-client 0.103.0 (the responder, with its own
 * randomness) over a bursty schedule until both have moved through three Braid epochs, and
 * records every SPQR message in delivery order with its key and every epoch secret. Every
 * message of both sides decrypted at the other side, so libsignal confirmed each key (its MAC
 * check) and produced every chunk marked "libsignal". spqr-vectors.test.ts replays the file.
 */

import { writeFileSync } from "node:fs";
import type { SessionState } from "../../gen/securecomm/storage/v1/session_pb.js";
import { utf8 } from "../crypto/bytes.js";
import { KeyPair, PrivateKey } from "../crypto/curve.js";
import { sha256 } from "../crypto/kdf.js";
import { pqxdhInitiate } from "../handshake/pqxdh.js";
import { LibsignalParty, OurParty } from "../session/parties.test-support.js";
import { ratchetDecrypt } from "./ratchet-decrypt.js";
import { ratchetEncrypt } from "./ratchet-encrypt.js";
import { createInitiatorState } from "./session-state.js";
import { parseSignalMessage, serializePreKeySignalMessage } from "./signal-message.js";
import { braidReceive, braidSend, initBraid } from "./spqr-braid.js";
import { parseSpqrMessage } from "./spqr-message.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fixed = (label: string) => sha256(utf8(`SecureComm SPQR vector: ${label}`));

const keySeeds: string[] = [];
const encapsMessages: string[] = [];
const random = {
  keySeed: () => {
    const seed = new Uint8Array([...fixed(`key seed d ${keySeeds.length}`), ...fixed(`key seed z ${keySeeds.length}`)]);
    keySeeds.push(hex(seed));
    return seed;
  },
  encapsMessage: () => {
    const m = fixed(`encaps m ${encapsMessages.length}`);
    encapsMessages.push(hex(m));
    return m;
  },
};

const them = new LibsignalParty();
const identity = KeyPair.generate();
const us = await OurParty.create();
const bundle = them.bundle();
const agreement = await pqxdhInitiate({ ourIdentity: identity, bundle });
let state: SessionState = await createInitiatorState({
  secrets: agreement.secrets,
  localIdentityKey: identity.publicKey.serialize(),
  remoteIdentityKey: bundle.identityKey.serialize(),
  localRegistrationId: us.registrationId,
  remoteRegistrationId: bundle.registrationId,
  baseKey: agreement.baseKey.serialize(),
  theirSignedPreKey: bundle.signedPreKey,
  ourRatchetKey: await PrivateKey.generateAsync(),
  pending: {
    preKeyId: bundle.preKeyId,
    signedPreKeyId: bundle.signedPreKeyId,
    kyberPreKeyId: bundle.kyberPreKeyId,
    kyberCiphertext: agreement.kyberCiphertext,
    createdAtMs: 0n,
  },
});
// libsignal's identity store must trust our identity: the address it sees us at.
const ourAddress = { name: "spqr-vector-peer", deviceId: 1 } as const;

interface Entry {
  from: "us" | "libsignal";
  spqr: string;
  key?: string;
}
const messages: Entry[] = [];
const secretsSeen = new Map<number, string>();

async function weSend(): Promise<void> {
  const before = state;
  const out = ratchetEncrypt(before, utf8(`from us ${messages.length}`), { spqrRandom: random });
  state = out.state;
  const pending = before.pendingPreKey;
  const body =
    pending === undefined
      ? out.message
      : serializePreKeySignalMessage({
          preKeyId: pending.preKeyId,
          baseKey: pending.baseKey,
          identityKey: before.localIdentityKey,
          message: out.message,
          registrationId: before.localRegistrationId,
          signedPreKeyId: pending.signedPreKeyId,
          kyberPreKeyId: pending.kyberPreKeyId,
          kyberCiphertext: pending.kyberCiphertext,
        });
  messages.push({ from: "us", spqr: hex(parseSignalMessage(out.message).pqRatchet) });
  await them.decrypt(ourAddress, { type: pending === undefined ? 2 : 3, body });
}

async function theySend(): Promise<void> {
  const m = await them.encrypt(ourAddress, utf8(`from libsignal ${messages.length}`));
  const out = await ratchetDecrypt(state, m.body);
  state = out.state;
  messages.push({ from: "libsignal", spqr: hex(parseSignalMessage(m.body).pqRatchet) });
}

// Bursts of 1..3 each way, deterministic, until both sides send in epoch 4.
let turn = 0;
const epochOf = (e: Entry) => parseSpqrMessage(Buffer.from(e.spqr, "hex")).epoch;
while (!(messages.some((e) => e.from === "us" && epochOf(e) >= 4) && messages.some((e) => e.from === "libsignal" && epochOf(e) >= 4))) {
  const burst = 1 + (turn % 3);
  for (let i = 0; i < burst; i++) await (turn % 2 === 0 ? weSend() : theySend());
  turn++;
  if (turn > 1000) throw new Error("epochs did not advance");
}

// The same messages at the Braid level, with the same randomness, give the keys and secrets the
// conversation used (each confirmed there by the other side's MAC check).
let braid = initBraid(agreement.secrets.pqAuthKey, true);
let nextSeed = 0;
let nextM = 0;
const replayRandom = {
  keySeed: () => Buffer.from(keySeeds[nextSeed++] as string, "hex"),
  encapsMessage: () => Buffer.from(encapsMessages[nextM++] as string, "hex"),
};
for (const entry of messages) {
  if (entry.from === "us") {
    const out = braidSend(braid, true, replayRandom);
    if (hex(out.message) !== entry.spqr) throw new Error("replay diverged");
    braid = out.braid;
    entry.key = hex(out.key);
    if (out.newEpoch) secretsSeen.set(out.newEpoch.epoch, hex(out.newEpoch.secret));
  } else {
    const out = braidReceive(braid, true, Buffer.from(entry.spqr, "hex"));
    braid = out.braid;
    entry.key = hex(out.key);
    if (out.newEpoch) secretsSeen.set(out.newEpoch.epoch, hex(out.newEpoch.secret));
  }
}

writeFileSync(
  new URL("../../spec/vectors/spqr-braid.json", import.meta.url),
  `${JSON.stringify(
    {
      description:
        "An SPQR ML-KEM Braid conversation (spec PQ-09..PQ-16) between SecureComm (the initiator, with the fixed randomness below) and libsignal-client 0.103.0 (the responder): every SPQR message in delivery order with its message key, and the epoch secrets. Messages from libsignal are its own bytes; every key was confirmed by the other side decrypting the message. Replay: start the initiator's Braid from authKey, send the 'us' messages with keySeeds and encapsMessages consumed in order, receive the 'libsignal' ones.",
      authKey: hex(agreement.secrets.pqAuthKey),
      keySeeds,
      encapsMessages,
      epochSecrets: [...secretsSeen].map(([epoch, secret]) => ({ epoch, secret })),
      messages,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${messages.length} messages, epochs ${[...secretsSeen.keys()].join(", ")}`);
