/**
 * Sender-key group messaging (spec SK-01, SK-04, SK-07, SK-08): create and process
 * distribution messages, encrypt and decrypt group messages.
 *
 * Owns: the operations that read a record from a `SenderKeyStore`, change a copy and write it
 * back, so a failed decryption (bad signature, duplicate, bad padding, …) stores nothing (spec
 * SK-07). Encryption stores the advanced chain before returning the message (SK-04). Records
 * are read through record-cache.ts (decoded once per stored bytes, never changed in place:
 * `copyForUpdate`), and a record's signing keys are parsed once.
 * Does not own: padding and room envelopes (the room layer pads Content bytes first, RM-07),
 * mapping distribution ids to members (SK-10, the room layer), pairwise delivery of SKDMs.
 */
import { ProtocolError } from "../errors.js";
import { randomBytes } from "../crypto/bytes.js";
import { aes256CbcDecrypt, aes256CbcEncrypt } from "../crypto/cipher.js";
import { KeyPair, PrivateKey, PublicKey } from "../crypto/curve.js";
import { messageKeysFromSeed } from "./chain.js";
import { CHAIN_ID_MASK, CHAIN_KEY_LENGTH, DISTRIBUTION_ID_LENGTH } from "./constants.js";
import {
  decodeSenderKeyDistribution,
  decodeSenderKeyMessage,
  encodeSenderKeyDistribution,
  encodeSenderKeyMessage,
} from "./messages.js";
import type { SenderKeyStore } from "./sender-key-store.js";
import {
  addSenderKeyState,
  copyForUpdate,
  currentSenderKeyState,
  emptySenderKeyRecord,
  findSenderKeyState,
  serializeSenderKeyRecord,
  takeReceivingSeed,
  takeSendingSeed,
} from "./sender-key-state.js";
import { type SenderKeyRecordSlot, senderKeyRecordSlot } from "./record-cache.js";
import type { SenderKeyRecord } from "../../gen/securecomm/storage/v1/sender_key_pb.js";

/**
 * Signing keys of remembered records by the (shared, never changed) byte array they were read
 * from (record-cache.ts): a record's keys are parsed once, not once per message. Weak, so an
 * entry lives exactly as long as the record holding those bytes.
 */
const signingPublicKeys = new WeakMap<Uint8Array, PublicKey>();
const signingPrivateKeys = new WeakMap<Uint8Array, PrivateKey>();

function signingPublicKey(bytes: Uint8Array): PublicKey {
  let key = signingPublicKeys.get(bytes);
  if (key === undefined) {
    key = PublicKey.deserialize(bytes);
    signingPublicKeys.set(bytes, key);
  }
  return key;
}

function signingPrivateKey(bytes: Uint8Array): PrivateKey {
  let key = signingPrivateKeys.get(bytes);
  if (key === undefined) {
    key = PrivateKey.deserialize(bytes);
    signingPrivateKeys.set(bytes, key);
  }
  return key;
}

/** The record for (sender, distribution id) as stored, or undefined; shared (never changed). */
async function load(store: SenderKeyStore, slot: SenderKeyRecordSlot, sender: string, distributionId: Uint8Array): Promise<SenderKeyRecord | undefined> {
  const stored = await store.loadSenderKey(sender, distributionId);
  return stored === null ? undefined : slot.lookup(stored);
}

/** Stores `record` (derived from `replaced`), then remembers it in place of `replaced`. */
async function commit(
  store: SenderKeyStore,
  slot: SenderKeyRecordSlot,
  sender: string,
  distributionId: Uint8Array,
  replaced: SenderKeyRecord | undefined,
  record: SenderKeyRecord,
): Promise<void> {
  const bytes = serializeSenderKeyRecord(record);
  await store.storeSenderKey(sender, distributionId, bytes);
  slot.remember(replaced, bytes, record);
}

function checkDistributionId(distributionId: Uint8Array): void {
  if (distributionId.length !== DISTRIBUTION_ID_LENGTH) throw new RangeError("distribution id must be 16 bytes");
}

/** A fresh random distribution id (spec SK-01: 16 random bytes). */
export function createDistributionId(): Uint8Array {
  return randomBytes(DISTRIBUTION_ID_LENGTH);
}

function randomChainId(): number {
  const b = randomBytes(4);
  return (new DataView(b.buffer).getUint32(0, false) & CHAIN_ID_MASK) >>> 0;
}

/**
 * Our SKDM for `distributionId` (spec SK-01, SK-06): creates the sender key (random chain id,
 * chain key and signing key pair, iteration 0) if `sender` (our own address string) has none
 * for it yet, then describes the current state at its current iteration.
 */
export async function createSenderKeyDistributionMessage(
  store: SenderKeyStore,
  sender: string,
  distributionId: Uint8Array,
): Promise<Uint8Array> {
  checkDistributionId(distributionId);
  const slot = senderKeyRecordSlot(sender, distributionId);
  const stored = await load(store, slot, sender, distributionId);
  let state = stored === undefined ? undefined : currentSenderKeyState(stored);
  if (state === undefined || state.signingPrivateKey.length === 0) {
    // Signs only, every message: generated so the runtime's native signer can sign (EN-03).
    const signing = KeyPair.fromPrivateKey(PrivateKey.generateSigningKey());
    // addSenderKeyState replaces the states list and moves states; it changes no state.
    const record = stored === undefined ? emptySenderKeyRecord() : { ...stored, states: stored.states.slice() };
    addSenderKeyState(record, {
      chainId: randomChainId(),
      iteration: 0,
      chainKey: randomBytes(CHAIN_KEY_LENGTH),
      signingKey: signing.publicKey,
      signingPrivateKey: signing.privateKey.serialize(),
    });
    await commit(store, slot, sender, distributionId, stored, record);
    state = currentSenderKeyState(record);
  }
  const s = state as NonNullable<typeof state>;
  const ck = s.chainKey as NonNullable<typeof s.chainKey>;
  return encodeSenderKeyDistribution({
    distributionId,
    chainId: s.chainId,
    iteration: ck.iteration,
    chainKey: ck.seed,
    signingKey: PublicKey.deserialize(s.signingPublicKey),
  });
}

/**
 * Processes an SKDM received from `sender` over an authenticated pairwise session (spec
 * SK-08). Resolves the distribution id so the caller can map it to the member (SK-10).
 * Malformed → ProtocolError; nothing is stored then.
 */
export async function processSenderKeyDistributionMessage(
  store: SenderKeyStore,
  sender: string,
  skdm: Uint8Array,
): Promise<{ distributionId: Uint8Array; chainId: number }> {
  const d = decodeSenderKeyDistribution(skdm);
  const slot = senderKeyRecordSlot(sender, d.distributionId);
  const stored = await load(store, slot, sender, d.distributionId);
  // addSenderKeyState replaces the states list and moves states; it changes no state.
  const record = stored === undefined ? emptySenderKeyRecord() : { ...stored, states: stored.states.slice() };
  addSenderKeyState(record, d);
  await commit(store, slot, sender, d.distributionId, stored, record);
  return { distributionId: d.distributionId, chainId: d.chainId };
}

/**
 * Encrypts `plaintext` with our current sender key for `distributionId` (spec SK-04): the
 * advanced chain is stored before the signed SenderKeyMessage is returned. No sender key (or
 * one without a private signing key) → `ProtocolError("no_sender_key")`.
 */
export async function groupEncrypt(
  store: SenderKeyStore,
  sender: string,
  distributionId: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  checkDistributionId(distributionId);
  const slot = senderKeyRecordSlot(sender, distributionId);
  const loaded = await store.loadSenderKey(sender, distributionId);
  const stored = loaded === null ? undefined : slot.lookup(loaded);
  if (stored === undefined) throw new ProtocolError("no_sender_key");
  const current = currentSenderKeyState(stored);
  if (current === undefined || current.signingPrivateKey.length === 0) throw new ProtocolError("no_sender_key");
  const signingKey = signingPrivateKey(current.signingPrivateKey);
  const { record, state } = copyForUpdate(stored, current);
  const { iteration, seed } = takeSendingSeed(state);
  const { iv, cipherKey } = messageKeysFromSeed(seed);
  const ciphertext = aes256CbcEncrypt(cipherKey, iv, plaintext);
  const message = encodeSenderKeyMessage({ distributionId, chainId: state.chainId, iteration, ciphertext }, signingKey);
  const bytes = serializeSenderKeyRecord(record);
  await store.storeSenderKey(sender, distributionId, bytes);
  slot.remember(stored, bytes, record);
  return message;
}

/**
 * The distribution id of a SenderKeyMessage, read before decryption so the room layer can find
 * the member it belongs to (spec SK-10). Malformed → ProtocolError.
 */
export function senderKeyMessageDistributionId(message: Uint8Array): Uint8Array {
  return decodeSenderKeyMessage(message).distributionId;
}

/**
 * Decrypts a SenderKeyMessage from `sender` (spec SK-07): parse; find the state by chain id
 * (`no_sender_key`); verify the signature over the bytes as received (`invalid_signature`);
 * select the seed (`duplicate_message`, `counter_too_large`); decrypt (`invalid_ciphertext`).
 * The record is stored only after all of that succeeded.
 */
export async function groupDecrypt(store: SenderKeyStore, sender: string, message: Uint8Array): Promise<Uint8Array> {
  const m = decodeSenderKeyMessage(message);
  const slot = senderKeyRecordSlot(sender, m.distributionId);
  const loaded = await store.loadSenderKey(sender, m.distributionId);
  const stored = loaded === null ? undefined : slot.lookup(loaded);
  if (stored === undefined) throw new ProtocolError("no_sender_key");
  const found = findSenderKeyState(stored, m.chainId);
  if (found === undefined) throw new ProtocolError("no_sender_key");
  const signingKey = signingPublicKey(found.signingPublicKey);
  const valid = signingKey.verifySignatureNow(m.signedBytes, m.signature) ?? (await signingKey.verifySignature(m.signedBytes, m.signature));
  if (!valid) throw new ProtocolError("invalid_signature");
  // The remembered record stays as stored; only the copy advances, and is kept on success.
  const { record, state } = copyForUpdate(stored, found);
  const seed = takeReceivingSeed(state, m.iteration);
  const { iv, cipherKey } = messageKeysFromSeed(seed);
  const plaintext = aes256CbcDecrypt(cipherKey, iv, m.ciphertext);
  const bytes = serializeSenderKeyRecord(record);
  await store.storeSenderKey(sender, m.distributionId, bytes);
  slot.remember(stored, bytes, record);
  return plaintext;
}
