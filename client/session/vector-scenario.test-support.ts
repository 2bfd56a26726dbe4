/**
 * Test support (never product code): the fixed-randomness scenario behind
 * spec/vectors/pqxdh.json and spec/vectors/ratchet.json.
 *
 * Owns: running PQXDH and a four-message conversation through the pure handshake and ratchet
 * functions with every random input injected, and returning every intermediate value as hex.
 * The generator (generate-vectors.test-support.ts) writes these values; vectors.test.ts
 * recomputes them and cross-checks them against libsignal.
 */

import { toBinary } from "@bufbuild/protobuf";
import { SessionStateSchema, type SessionState } from "../../gen/securecomm/storage/v1/session_pb.js";
import { concatBytes } from "../crypto/bytes.js";
import { KeyPair, PrivateKey } from "../crypto/curve.js";
import { KemPublicKey, KemSecretKey } from "../crypto/kem.js";
import { PQXDH_DISCONTINUITY } from "../handshake/constants.js";
import { pqxdhInitiate, pqxdhRespond } from "../handshake/pqxdh.js";
import type { PreKeyBundle } from "../handshake/prekey-bundle.js";
import { messageKeys, messageSeed } from "../ratchet/kdf-chains.js";
import { ratchetDecrypt } from "../ratchet/ratchet-decrypt.js";
import { ratchetEncrypt } from "../ratchet/ratchet-encrypt.js";
import { createInitiatorState, createResponderState } from "../ratchet/session-state.js";
import { parseSignalMessage, serializePreKeySignalMessage } from "../ratchet/signal-message.js";
import { initSpqr, spqrChainStep } from "../ratchet/spqr.js";

/** Lower-case hex. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** Bytes of lower-case hex. */
export function unhex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "hex"));
}

/** The fixed inputs of one PQXDH case. */
export interface PqxdhInputs {
  readonly aliceIdentityPrivate: string;
  readonly bobIdentityPrivate: string;
  readonly bobSignedPreKeyPrivate: string;
  /** Absent for the case without a one-time prekey. */
  readonly bobOneTimePreKeyPrivate?: string;
  readonly bobKyberPublicKey: string;
  readonly bobKyberSecretKey: string;
  readonly baseKeyPrivate: string;
  /** The 32-byte encapsulation message m (EN-09). */
  readonly kyberEncapsulationM: string;
}

/** Every value one PQXDH case pins. */
export interface PqxdhOutputs {
  readonly aliceIdentityPublic: string;
  readonly bobIdentityPublic: string;
  readonly bobSignedPreKeyPublic: string;
  readonly bobOneTimePreKeyPublic?: string;
  readonly baseKey: string;
  readonly kyberCiphertext: string;
  readonly kyberSharedSecret: string;
  readonly dh: string[];
  readonly ikm: string;
  readonly rootKey: string;
  readonly chainKey: string;
  readonly pqAuthKey: string;
}

const priv = (h: string) => PrivateKey.deserialize(unhex(h));

/** Runs PQXDH for both sides from `inputs`; both must agree (else throws). */
export async function runPqxdh(inputs: PqxdhInputs): Promise<PqxdhOutputs> {
  const alice = KeyPair.fromPrivateKey(priv(inputs.aliceIdentityPrivate));
  const bob = KeyPair.fromPrivateKey(priv(inputs.bobIdentityPrivate));
  const signed = priv(inputs.bobSignedPreKeyPrivate);
  const oneTime = inputs.bobOneTimePreKeyPrivate === undefined ? undefined : priv(inputs.bobOneTimePreKeyPrivate);
  const base = priv(inputs.baseKeyPrivate);
  const kyberPublic = KemPublicKey.deserialize(unhex(inputs.bobKyberPublicKey));
  const encapsulation = kyberPublic.encapsulateWithMessage(unhex(inputs.kyberEncapsulationM));
  const bundle: PreKeyBundle = {
    registrationId: 1,
    deviceId: 1,
    preKeyId: oneTime === undefined ? undefined : 1,
    preKey: oneTime?.getPublicKey(),
    signedPreKeyId: 1,
    signedPreKey: signed.getPublicKey(),
    signedPreKeySignature: new Uint8Array(64),
    identityKey: bob.publicKey,
    kyberPreKeyId: 1,
    kyberPreKey: kyberPublic,
    kyberPreKeySignature: new Uint8Array(64),
  };
  const initiated = await pqxdhInitiate({ ourIdentity: alice, bundle, baseKey: base, encapsulate: () => encapsulation });
  const responded = await pqxdhRespond({
    ourIdentity: bob,
    ourSignedPreKey: signed,
    ourOneTimePreKey: oneTime,
    ourKyberPreKey: KemSecretKey.deserialize(unhex(inputs.bobKyberSecretKey)),
    theirIdentity: alice.publicKey,
    theirBaseKey: initiated.baseKey.serialize(),
    kyberCiphertext: initiated.kyberCiphertext,
  });
  if (hex(responded.rootKey) !== hex(initiated.secrets.rootKey) || hex(responded.pqAuthKey) !== hex(initiated.secrets.pqAuthKey)) {
    throw new Error("PQXDH sides disagree");
  }
  const dh = [
    await alice.privateKey.agree(signed.getPublicKey()),
    await base.agree(bob.publicKey),
    await base.agree(signed.getPublicKey()),
    ...(oneTime === undefined ? [] : [await base.agree(oneTime.getPublicKey())]),
  ];
  const kyberSharedSecret = KemSecretKey.deserialize(unhex(inputs.bobKyberSecretKey)).decapsulate(initiated.kyberCiphertext);
  return {
    aliceIdentityPublic: hex(alice.publicKey.serialize()),
    bobIdentityPublic: hex(bob.publicKey.serialize()),
    bobSignedPreKeyPublic: hex(signed.getPublicKey().serialize()),
    ...(oneTime === undefined ? {} : { bobOneTimePreKeyPublic: hex(oneTime.getPublicKey().serialize()) }),
    baseKey: hex(initiated.baseKey.serialize()),
    kyberCiphertext: hex(initiated.kyberCiphertext),
    kyberSharedSecret: hex(kyberSharedSecret),
    dh: dh.map(hex),
    ikm: hex(concatBytes(PQXDH_DISCONTINUITY, ...dh, kyberSharedSecret)),
    rootKey: hex(initiated.secrets.rootKey),
    chainKey: hex(initiated.secrets.chainKey),
    pqAuthKey: hex(initiated.secrets.pqAuthKey),
  };
}

/** The extra fixed inputs of the conversation. */
export interface ConversationInputs {
  readonly pqxdh: PqxdhInputs;
  /** Alice's first sending ratchet key (PX-02). */
  readonly aliceRatchetKey0Private: string;
  /** Bob's new ratchet key on his DH step at m0 (DR-08). */
  readonly bobRatchetKey1Private: string;
  /** Alice's new ratchet key on her DH step at m2. */
  readonly aliceRatchetKey2Private: string;
  readonly aliceRegistrationId: number;
  readonly bobRegistrationId: number;
  readonly preKeyId: number;
  readonly signedPreKeyId: number;
  readonly kyberPreKeyId: number;
  /** Plaintexts of m0..m3 (hex). */
  readonly plaintexts: readonly string[];
}

/** One message of the conversation with its keys. */
export interface ConversationMessage {
  readonly from: "alice" | "bob";
  readonly type: 2 | 3;
  readonly plaintext: string;
  readonly ratchetKey: string;
  readonly counter: number;
  readonly previousCounter: number;
  readonly messageSeed: string;
  readonly pqRatchet: string;
  readonly spqrKey: string;
  readonly cipherKey: string;
  readonly macKey: string;
  readonly iv: string;
  /** The SignalMessage bytes. */
  readonly signalMessage: string;
  /** What goes on the wire: the PreKeySignalMessage for type 3, else the SignalMessage. */
  readonly body: string;
}

/** Every value the conversation pins. */
export interface ConversationOutputs {
  readonly spqrChainAToB: string;
  readonly spqrChainBToA: string;
  readonly aliceRootKeyAfterInit: string;
  readonly messages: ConversationMessage[];
}

function describe(from: "alice" | "bob", type: 2 | 3, plaintext: Uint8Array, before: SessionState, signalMessage: Uint8Array, body: Uint8Array): ConversationMessage {
  const chain = before.senderChain?.chainKey;
  if (chain === undefined) throw new Error("no sender chain");
  const parsed = parseSignalMessage(signalMessage);
  const seed = messageSeed(chain.key);
  // The SPQR key is the one the sender derived: recompute it from the state before sending.
  const pq = before.pqRatchet;
  if (pq === undefined) throw new Error("no SPQR state");
  const spqrKey = spqrKeyAfter(pq.sendChainKey, pq.sendCounter + 1);
  const keys = messageKeys(seed, spqrKey);
  return {
    from,
    type,
    plaintext: hex(plaintext),
    ratchetKey: hex(parsed.ratchetKey),
    counter: parsed.counter,
    previousCounter: parsed.previousCounter,
    messageSeed: hex(seed),
    pqRatchet: hex(parsed.pqRatchet),
    spqrKey: hex(spqrKey),
    cipherKey: hex(keys.cipherKey),
    macKey: hex(keys.macKey),
    iv: hex(keys.iv),
    signalMessage: hex(signalMessage),
    body: hex(body),
  };
}

function spqrKeyAfter(chain: Uint8Array, counter: number): Uint8Array {
  return spqrChainStep(chain, counter).key;
}

/** Runs the conversation m0 (A→B, PreKey), m1 (A→B, PreKey), m2 (B→A), m3 (A→B). */
export async function runConversation(inputs: ConversationInputs): Promise<ConversationOutputs> {
  const p = inputs.pqxdh;
  const alice = KeyPair.fromPrivateKey(priv(p.aliceIdentityPrivate));
  const bob = KeyPair.fromPrivateKey(priv(p.bobIdentityPrivate));
  const signed = priv(p.bobSignedPreKeyPrivate);
  const oneTime = p.bobOneTimePreKeyPrivate === undefined ? undefined : priv(p.bobOneTimePreKeyPrivate);
  const kyberPublic = KemPublicKey.deserialize(unhex(p.bobKyberPublicKey));
  const encapsulation = kyberPublic.encapsulateWithMessage(unhex(p.kyberEncapsulationM));
  const bundle: PreKeyBundle = {
    registrationId: inputs.bobRegistrationId,
    deviceId: 1,
    preKeyId: oneTime === undefined ? undefined : inputs.preKeyId,
    preKey: oneTime?.getPublicKey(),
    signedPreKeyId: inputs.signedPreKeyId,
    signedPreKey: signed.getPublicKey(),
    signedPreKeySignature: new Uint8Array(64),
    identityKey: bob.publicKey,
    kyberPreKeyId: inputs.kyberPreKeyId,
    kyberPreKey: kyberPublic,
    kyberPreKeySignature: new Uint8Array(64),
  };
  const initiated = await pqxdhInitiate({ ourIdentity: alice, bundle, baseKey: priv(p.baseKeyPrivate), encapsulate: () => encapsulation });
  let aliceState = await createInitiatorState({
    secrets: initiated.secrets,
    localIdentityKey: alice.publicKey.serialize(),
    remoteIdentityKey: bob.publicKey.serialize(),
    localRegistrationId: inputs.aliceRegistrationId,
    remoteRegistrationId: inputs.bobRegistrationId,
    baseKey: initiated.baseKey.serialize(),
    theirSignedPreKey: signed.getPublicKey(),
    ourRatchetKey: priv(inputs.aliceRatchetKey0Private),
    pending: {
      preKeyId: bundle.preKeyId,
      signedPreKeyId: inputs.signedPreKeyId,
      kyberPreKeyId: inputs.kyberPreKeyId,
      kyberCiphertext: initiated.kyberCiphertext,
      createdAtMs: 0n,
    },
    spqrPhase: 1,
  });
  const aliceRootKeyAfterInit = hex(aliceState.rootKey);
  const spqr = initSpqr(initiated.secrets.pqAuthKey, true, 1);
  const plaintext = (i: number) => unhex(inputs.plaintexts[i] ?? "");
  const messages: ConversationMessage[] = [];

  const aliceSends = (i: number): Uint8Array => {
    const before = aliceState;
    const out = ratchetEncrypt(before, plaintext(i));
    aliceState = out.state;
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
    messages.push(describe("alice", pending === undefined ? 2 : 3, plaintext(i), before, out.message, body));
    return out.message;
  };

  const m0 = aliceSends(0);
  const m1 = aliceSends(1);
  const secrets = await pqxdhRespond({
    ourIdentity: bob,
    ourSignedPreKey: signed,
    ourOneTimePreKey: oneTime,
    ourKyberPreKey: KemSecretKey.deserialize(unhex(p.bobKyberSecretKey)),
    theirIdentity: alice.publicKey,
    theirBaseKey: initiated.baseKey.serialize(),
    kyberCiphertext: initiated.kyberCiphertext,
  });
  let bobState = createResponderState({
    secrets,
    localIdentityKey: bob.publicKey.serialize(),
    remoteIdentityKey: alice.publicKey.serialize(),
    localRegistrationId: inputs.bobRegistrationId,
    remoteRegistrationId: inputs.aliceRegistrationId,
    baseKey: initiated.baseKey.serialize(),
    ourSignedPreKey: signed,
    // ratchet.json pins phase-1 SPQR (None messages); the Braid has its own vectors (spqr-*.json).
    spqrPhase: 1,
  });
  const d0 = await ratchetDecrypt(bobState, m0, { newRatchetKey: () => priv(inputs.bobRatchetKey1Private) });
  bobState = d0.state;
  const d1 = await ratchetDecrypt(bobState, m1);
  bobState = d1.state;
  if (hex(d0.plaintext) !== inputs.plaintexts[0] || hex(d1.plaintext) !== inputs.plaintexts[1]) throw new Error("m0/m1 mismatch");

  const beforeBob = bobState;
  const m2 = ratchetEncrypt(beforeBob, plaintext(2));
  bobState = m2.state;
  messages.push(describe("bob", 2, plaintext(2), beforeBob, m2.message, m2.message));
  const d2 = await ratchetDecrypt(aliceState, m2.message, { newRatchetKey: () => priv(inputs.aliceRatchetKey2Private) });
  aliceState = d2.state;
  if (hex(d2.plaintext) !== inputs.plaintexts[2]) throw new Error("m2 mismatch");

  const m3 = aliceSends(3);
  const d3 = await ratchetDecrypt(bobState, m3);
  if (hex(d3.plaintext) !== inputs.plaintexts[3]) throw new Error("m3 mismatch");
  // Touch the serializer so a state that cannot be stored fails the scenario.
  toBinary(SessionStateSchema, d3.state);
  return {
    spqrChainAToB: hex(spqr.sendChainKey),
    spqrChainBToA: hex(spqr.receiveChainKey),
    aliceRootKeyAfterInit,
    messages,
  };
}
