/**
 * Browser entry of the client-library test (issue 3): the Signal Protocol library of `client/`
 * itself, not the web app, run inside real Chromium.
 *
 * Owns: `runProtocol()` (also set as `window.runProtocol`), which runs a full pairwise session
 * (PQXDH with a signed, a one-time and a Kyber prekey, then a bursty two-way Double Ratchet
 * exchange with DH steps and one out-of-order delivery), a sender-key exchange (SKDM carried
 * over that session, group messages with one skipped iteration delivered late, a duplicate),
 * tamper checks, and reports which crypto paths ran (WebCrypto or noble) as a JSON-able
 * summary. Every plaintext is compared in the page; the summary carries only counts, error
 * codes and path names, never keys, plaintext or addresses.
 * Does not own: bundling, serving and driving Chromium (client-library.test.ts).
 *
 * Imports only product code from `client/` (never libsignal, never `*.test-support.ts`).
 * Cites spec chapters, not requirement ids: this file lives in web/ under a non-test name, so
 * scripts/requirements-table.ts would list it as implementing any id it cited.
 */
import { PublicKey } from "../../client/crypto/curve.js";
import { KemPublicKey } from "../../client/crypto/kem.js";
import { hasNativeX25519, jwkImportChecksPublicKey } from "../../client/crypto/x25519.js";
import { hasNativeEd25519 } from "../../client/crypto/xeddsa.js";
import { isProtocolError } from "../../client/errors.js";
import type { PreKeyBundle } from "../../client/handshake/prekey-bundle.js";
import { addressToString } from "../../client/keys/address.js";
import { createIdentityKeyPair, DEVICE_ID, type IdentityKeyPair } from "../../client/keys/identity.js";
import { createKyberPreKey, createOneTimePreKeys, createSignedPreKey, randomPreKeyId } from "../../client/keys/prekeys.js";
import { parsePreKeySignalMessage, parseSignalMessage } from "../../client/ratchet/signal-message.js";
import {
  createDistributionId,
  createSenderKeyDistributionMessage,
  groupDecrypt,
  groupEncrypt,
  processSenderKeyDistributionMessage,
} from "../../client/sender-keys/group-cipher.js";
import { decodeSenderKeyMessage } from "../../client/sender-keys/messages.js";
import { InMemorySenderKeyStore } from "../../client/sender-keys/sender-key-store.js";
import { SessionBuilder } from "../../client/session/session-builder.js";
import {
  MESSAGE_TYPE_PREKEY,
  MESSAGE_TYPE_SIGNAL,
  SessionCipher,
  type CiphertextMessage,
} from "../../client/session/session-cipher.js";
import { MemoryKeyValueStore } from "../../client/store/kv-store.js";
import { KvProtocolStore } from "../../client/store/protocol-store.js";
import { StateStore } from "../../client/store/state-store.js";
import { createProtocolAddress, type ProtocolAddress } from "../../client/store/protocol-address.js";

/**
 * Burst sizes of the pairwise exchange after the first PreKey message, alternating senders
 * starting with Bob: 40 messages in all with 9 changes of direction, so both sides take
 * several DH ratchet steps (each first reply after a received message starts a new chain).
 */
export const BURSTS: readonly number[] = [3, 5, 1, 4, 6, 2, 7, 3, 4, 5];

/** The burst (index into BURSTS) delivered in reverse order: the out-of-order delivery. */
export const OUT_OF_ORDER_BURST = 4;

/** Number of group messages Alice sends with her sender key. */
export const GROUP_MESSAGES = 6;

/** The group message (0-based iteration) held back and delivered last: the skipped iteration. */
export const SKIPPED_GROUP_MESSAGE = 2;

/** What the page reports; nothing in it is secret. */
export interface ProtocolSummary {
  readonly secureContext: boolean;
  readonly pairwise: {
    /** Messages encrypted in total (the PreKey opener plus the bursts). */
    readonly sent: number;
    /** Messages whose decryption equalled the plaintext sent. */
    readonly matched: number;
    readonly mismatched: number;
    /** Type of the first message (3: PreKeySignalMessage). */
    readonly firstMessageType: number;
    readonly preKeyMessages: number;
    readonly signalMessages: number;
    /** Distinct ratchet public keys seen in each side's messages: DH ratchet steps + 1. */
    readonly aliceRatchetKeys: number;
    readonly bobRatchetKeys: number;
    /** Messages delivered after a later message of the same chain. */
    readonly deliveredOutOfOrder: number;
    /**
     * After Bob read the PreKey message: his one-time EC and one-time Kyber prekeys are gone,
     * his signed prekey stays.
     */
    readonly oneTimePreKeyRemoved: boolean;
    readonly kyberPreKeyRemoved: boolean;
    readonly signedPreKeyKept: boolean;
  };
  readonly group: {
    readonly sent: number;
    readonly matched: number;
    readonly mismatched: number;
    /** Whether the SKDM travelled over the pairwise session and arrived intact. */
    readonly skdmOverSession: boolean;
    /** Iteration delivered after later ones. */
    readonly skippedIterationDeliveredLate: boolean;
    /** Error code of re-delivering a group message already decrypted. */
    readonly duplicateCode: string;
  };
  readonly tamper: {
    /** Error name and code of a SignalMessage with one flipped ciphertext bit. */
    readonly pairwiseErrorName: string;
    readonly pairwiseCode: string;
    /** Whether the untampered original still decrypted afterwards (no state was changed). */
    readonly pairwiseOriginalDecrypted: boolean;
    /** Code of a SenderKeyMessage with one flipped ciphertext bit. */
    readonly groupCode: string;
    readonly groupOriginalDecrypted: boolean;
  };
  /** Which implementation `client/crypto` chose in this runtime (probed once, cached). */
  readonly paths: {
    readonly x25519: "webcrypto" | "noble";
    readonly ed25519Verify: "webcrypto" | "noble";
    /** Whether WebCrypto's JWK import checks the claimed public half (cheap-import path). */
    readonly jwkImportChecksPublicKey: boolean;
  };
}

interface Party {
  readonly identity: IdentityKeyPair;
  readonly address: ProtocolAddress;
  /** The party's state; every protocol-store write runs inside one of its transactions. */
  readonly state: StateStore;
  readonly store: KvProtocolStore;
  /** The session cipher, each call one transaction (as the room engine runs it). */
  readonly cipher: Pick<SessionCipher, "encrypt" | "decryptMessage">;
  readonly senderKeys: InMemorySenderKeyStore;
}

async function createParty(): Promise<Party> {
  const identity = createIdentityKeyPair();
  // The address name is the hash of the identity key (spec 03, the address rule), so address binding holds.
  const address = createProtocolAddress(addressToString(identity.address), DEVICE_ID);
  // The client's one protocol store (client/store/protocol-store.ts) on its state store over the
  // production in-memory key-value store, exactly as the client library builds it.
  const state = await StateStore.open(new MemoryKeyValueStore());
  const store = new KvProtocolStore(state, identity, Date.now);
  const session = new SessionCipher(store);
  const cipher: Party["cipher"] = {
    encrypt: (...args) => state.transaction(() => session.encrypt(...args)),
    decryptMessage: (...args) => state.transaction(() => session.decryptMessage(...args)),
  };
  return { identity, address, state, store, cipher, senderKeys: new InMemorySenderKeyStore() };
}

/** Publishes Bob's signed EC prekey, one one-time EC prekey and a Kyber prekey; returns his bundle. */
async function publishBundle(party: Party): Promise<PreKeyBundle> {
  const now = Date.now();
  const signed = createSignedPreKey(party.identity, randomPreKeyId(), now);
  const kyber = createKyberPreKey(party.identity, randomPreKeyId(), now);
  const [oneTime] = createOneTimePreKeys(randomPreKeyId(), 1);
  if (oneTime === undefined) throw new Error("no one-time prekey was created");
  await party.state.transaction(async () => {
    await party.store.storeSignedPreKey(signed);
    await party.store.storeKyberPreKey(kyber);
    await party.store.storePreKey(oneTime);
  });
  return {
    registrationId: party.identity.registrationId,
    deviceId: DEVICE_ID,
    preKeyId: oneTime.id,
    preKey: PublicKey.deserialize(oneTime.publicKey),
    signedPreKeyId: signed.id,
    signedPreKey: PublicKey.deserialize(signed.publicKey),
    signedPreKeySignature: signed.signature,
    identityKey: party.identity.publicKey,
    kyberPreKeyId: kyber.id,
    kyberPreKey: KemPublicKey.deserialize(kyber.publicKey),
    kyberPreKeySignature: kyber.signature,
  };
}

const encoder = new TextEncoder();

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The sender's ratchet public key of a message of either type (header only, unverified). */
function ratchetKeyOf(message: CiphertextMessage): string {
  const inner = message.type === MESSAGE_TYPE_PREKEY ? parsePreKeySignalMessage(message.body).message : message.body;
  return hex(parseSignalMessage(inner).ratchetKey);
}

/** Where `part` starts inside `bytes` (first occurrence); -1 when absent. */
function offsetOf(bytes: Uint8Array, part: Uint8Array): number {
  outer: for (let i = 0; i + part.length <= bytes.length; i++) {
    for (let j = 0; j < part.length; j++) if (bytes[i + j] !== part[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * A copy of `message` with one bit flipped in the middle of its AES ciphertext `ciphertext`
 * (found inside the message's bytes), so the flip hits authenticated content, not framing.
 */
function flipCiphertextBit(message: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const at = offsetOf(message, ciphertext);
  if (at < 0 || ciphertext.length === 0) throw new Error("ciphertext not found in its message");
  const copy = Uint8Array.from(message);
  const index = at + Math.floor(ciphertext.length / 2);
  copy[index] = (copy[index] as number) ^ 0x10;
  return copy;
}

/** The error's name and code, or "none" when `f` did not throw. */
async function failure(f: () => Promise<unknown>): Promise<{ name: string; code: string }> {
  try {
    await f();
    return { name: "none", code: "none" };
  } catch (e) {
    if (isProtocolError(e)) return { name: e.name, code: e.code };
    return { name: e instanceof Error ? e.name : typeof e, code: "not-a-protocol-error" };
  }
}

/** Runs the whole scenario; see the module header. */
export async function runProtocol(): Promise<ProtocolSummary> {
  const alice = await createParty();
  const bob = await createParty();
  let sent = 0;
  let matched = 0;
  let mismatched = 0;
  let preKeyMessages = 0;
  let signalMessages = 0;
  let deliveredOutOfOrder = 0;
  const ratchetKeys = new Map<Party, Set<string>>([
    [alice, new Set()],
    [bob, new Set()],
  ]);

  const send = async (from: Party, to: Party, text: string) => {
    const plaintext = encoder.encode(text);
    const message = await from.cipher.encrypt(to.address, plaintext);
    sent++;
    if (message.type === MESSAGE_TYPE_PREKEY) preKeyMessages++;
    else if (message.type === MESSAGE_TYPE_SIGNAL) signalMessages++;
    ratchetKeys.get(from)?.add(ratchetKeyOf(message));
    return { from, to, plaintext, message };
  };
  const deliver = async (m: Awaited<ReturnType<typeof send>>) => {
    const got = await m.to.cipher.decryptMessage(m.from.address, m.message);
    if (bytesEqual(got, m.plaintext)) matched++;
    else mismatched++;
  };

  // 1. PQXDH: Alice processes Bob's bundle and opens with a PreKey message.
  const bundle = await publishBundle(bob);
  await alice.state.transaction(() => new SessionBuilder(alice.store).processPreKeyBundle(bob.address, bundle));
  const first = await send(alice, bob, "Hello Bob, this is the first message of our session.");
  const firstMessageType = first.message.type;
  await deliver(first);
  const oneTimePreKeyRemoved = bundle.preKeyId !== undefined && (await bob.store.loadPreKey(bundle.preKeyId)) === undefined;
  const kyberPreKeyRemoved = (await bob.store.loadKyberPreKey(bundle.kyberPreKeyId)) === undefined;
  const signedPreKeyKept = (await bob.store.loadSignedPreKey(bundle.signedPreKeyId)) !== undefined;

  // Bursts alternate direction (Bob first); one burst arrives in reverse order.
  for (const [i, size] of BURSTS.entries()) {
    const [from, to] = i % 2 === 0 ? [bob, alice] : [alice, bob];
    const burst = [];
    for (let j = 0; j < size; j++) burst.push(await send(from, to, `burst ${i} message ${j}: ${"x".repeat((i * 7 + j * 13) % 50)}`));
    if (i === OUT_OF_ORDER_BURST) {
      burst.reverse();
      deliveredOutOfOrder += burst.length - 1;
    }
    for (const m of burst) await deliver(m);
  }

  // 2. Sender keys: the SKDM travels over the pairwise session, as rooms send it (spec 07).
  const distributionId = createDistributionId();
  const skdm = await createSenderKeyDistributionMessage(alice.senderKeys, alice.address.name, distributionId);
  const skdmMessage = await alice.cipher.encrypt(bob.address, skdm);
  const skdmReceived = await bob.cipher.decryptMessage(alice.address, skdmMessage);
  const skdmOverSession = bytesEqual(skdmReceived, skdm);
  await processSenderKeyDistributionMessage(bob.senderKeys, alice.address.name, skdmReceived);
  const group: { plaintext: Uint8Array; message: Uint8Array }[] = [];
  for (let i = 0; i < GROUP_MESSAGES; i++) {
    const plaintext = encoder.encode(`group message ${i} to everyone in the room`);
    group.push({ plaintext, message: await groupEncrypt(alice.senderKeys, alice.address.name, distributionId, plaintext) });
  }
  let groupMatched = 0;
  let groupMismatched = 0;
  const order = [...group.keys()].filter((i) => i !== SKIPPED_GROUP_MESSAGE);
  order.push(SKIPPED_GROUP_MESSAGE);
  for (const i of order) {
    const g = group[i] as (typeof group)[number];
    const got = await groupDecrypt(bob.senderKeys, alice.address.name, g.message);
    if (bytesEqual(got, g.plaintext)) groupMatched++;
    else groupMismatched++;
  }
  const duplicate = await failure(() => groupDecrypt(bob.senderKeys, alice.address.name, (group[0] as (typeof group)[number]).message));

  // 3. Tamper: one flipped bit in the ciphertext of a SignalMessage, then of a SenderKeyMessage.
  const tamperPlain = encoder.encode("a message someone will try to alter");
  const tamperMessage = await alice.cipher.encrypt(bob.address, tamperPlain);
  if (tamperMessage.type !== MESSAGE_TYPE_SIGNAL) throw new Error("expected a SignalMessage by now");
  // The MAC covers the ciphertext (spec 05): the flip must fail authentication, as "bad_mac".
  const tampered = flipCiphertextBit(tamperMessage.body, parseSignalMessage(tamperMessage.body).ciphertext);
  const pairwiseTamper = await failure(() =>
    bob.cipher.decryptMessage(alice.address, { type: MESSAGE_TYPE_SIGNAL, body: tampered }),
  );
  const pairwiseOriginal = await bob.cipher.decryptMessage(alice.address, tamperMessage);
  const groupPlain = encoder.encode("a group message someone will try to alter");
  const groupMessage = await groupEncrypt(alice.senderKeys, alice.address.name, distributionId, groupPlain);
  const groupTamper = await failure(() =>
    // The signature covers the ciphertext (spec 07): "invalid_signature".
    groupDecrypt(bob.senderKeys, alice.address.name, flipCiphertextBit(groupMessage, decodeSenderKeyMessage(groupMessage).ciphertext)),
  );
  const groupOriginal = await groupDecrypt(bob.senderKeys, alice.address.name, groupMessage);

  // 4. Which paths client/crypto chose (the same cached probes its hot paths consult).
  const [nativeX25519, nativeEd25519, jwkChecks] = await Promise.all([
    hasNativeX25519(),
    hasNativeEd25519(),
    jwkImportChecksPublicKey(),
  ]);

  return {
    secureContext: globalThis.isSecureContext === true,
    pairwise: {
      sent,
      matched,
      mismatched,
      firstMessageType,
      preKeyMessages,
      signalMessages,
      aliceRatchetKeys: ratchetKeys.get(alice)?.size ?? 0,
      bobRatchetKeys: ratchetKeys.get(bob)?.size ?? 0,
      deliveredOutOfOrder,
      oneTimePreKeyRemoved,
      kyberPreKeyRemoved,
      signedPreKeyKept,
    },
    group: {
      sent: group.length,
      matched: groupMatched,
      mismatched: groupMismatched,
      skdmOverSession,
      skippedIterationDeliveredLate: order[order.length - 1] === SKIPPED_GROUP_MESSAGE && SKIPPED_GROUP_MESSAGE < GROUP_MESSAGES - 1,
      duplicateCode: duplicate.code,
    },
    tamper: {
      pairwiseErrorName: pairwiseTamper.name,
      pairwiseCode: pairwiseTamper.code,
      pairwiseOriginalDecrypted: bytesEqual(pairwiseOriginal, tamperPlain),
      groupCode: groupTamper.code,
      groupOriginalDecrypted: bytesEqual(groupOriginal, groupPlain),
    },
    paths: {
      x25519: nativeX25519 ? "webcrypto" : "noble",
      ed25519Verify: nativeEd25519 ? "webcrypto" : "noble",
      jwkImportChecksPublicKey: jwkChecks,
    },
  };
}

declare global {
  interface Window {
    /** Set by the client-library test page (web/e2e/client-library-page.ts). */
    runProtocol?: () => Promise<ProtocolSummary>;
  }
}

if (typeof window !== "undefined") window.runProtocol = runProtocol;
