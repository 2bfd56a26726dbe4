// Test helper: parties of @signalapp/libsignal-client (the test oracle; AGPL, tests only, never
// imported by product code) with in-memory stores, able to publish a prekey bundle and hold
// sessions, so the schema tests can decode bytes libsignal really produces. It owns the oracle
// setup only; what is asserted about the bytes lives in proto/libsignal-wire.test.ts.

import { randomUUID } from "node:crypto";
import {
  CiphertextMessageType,
  Direction,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  SenderKeyRecord,
  SenderKeyStore,
  SessionRecord,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from "@signalapp/libsignal-client";
import type { CiphertextMessage, Uuid } from "@signalapp/libsignal-client";

/** Device id of every test party: SecureComm accounts have one device (DESIGN.md §6). */
export const DEVICE_ID = 1;

class MemorySessionStore extends SessionStore {
  private readonly sessions = new Map<string, Uint8Array<ArrayBuffer>>();
  override async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.sessions.set(name.toString(), record.serialize());
  }
  override async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    const bytes = this.sessions.get(name.toString());
    return bytes === undefined ? null : SessionRecord.deserialize(bytes);
  }
  override async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    const records: SessionRecord[] = [];
    for (const address of addresses) {
      const record = await this.getSession(address);
      if (record === null) throw new Error("no session for a requested address");
      records.push(record);
    }
    return records;
  }
}

class MemoryIdentityStore extends IdentityKeyStore {
  private readonly known = new Map<string, PublicKey>();
  constructor(
    private readonly identity: IdentityKeyPair,
    private readonly registrationId: number,
  ) {
    super();
  }
  override async getIdentityKey(): Promise<PrivateKey> {
    return this.identity.privateKey;
  }
  override async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }
  override async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const previous = this.known.get(name.toString());
    this.known.set(name.toString(), key);
    return previous !== undefined && !previous.equals(key)
      ? IdentityChange.ReplacedExisting
      : IdentityChange.NewOrUnchanged;
  }
  override async isTrustedIdentity(
    name: ProtocolAddress,
    key: PublicKey,
    _direction: Direction,
  ): Promise<boolean> {
    const known = this.known.get(name.toString());
    return known === undefined || known.equals(key);
  }
  override async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return this.known.get(name.toString()) ?? null;
  }
}

class MemoryPreKeyStore extends PreKeyStore {
  private readonly keys = new Map<number, PreKeyRecord>();
  override async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.keys.set(id, record);
  }
  override async getPreKey(id: number): Promise<PreKeyRecord> {
    const record = this.keys.get(id);
    if (record === undefined) throw new Error("no such prekey");
    return record;
  }
  override async removePreKey(id: number): Promise<void> {
    this.keys.delete(id);
  }
}

class MemorySignedPreKeyStore extends SignedPreKeyStore {
  private readonly keys = new Map<number, SignedPreKeyRecord>();
  override async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.keys.set(id, record);
  }
  override async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const record = this.keys.get(id);
    if (record === undefined) throw new Error("no such signed prekey");
    return record;
  }
}

class MemoryKyberPreKeyStore extends KyberPreKeyStore {
  private readonly keys = new Map<number, KyberPreKeyRecord>();
  override async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    this.keys.set(id, record);
  }
  override async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const record = this.keys.get(id);
    if (record === undefined) throw new Error("no such kyber prekey");
    return record;
  }
  override async markKyberPreKeyUsed(): Promise<void> {
    // Last-resort semantics are not under test here; the key stays usable.
  }
}

class MemorySenderKeyStore extends SenderKeyStore {
  private readonly records = new Map<string, Uint8Array<ArrayBuffer>>();
  override async saveSenderKey(sender: ProtocolAddress, id: Uuid, record: SenderKeyRecord): Promise<void> {
    this.records.set(`${sender.toString()}/${id}`, record.serialize());
  }
  override async getSenderKey(sender: ProtocolAddress, id: Uuid): Promise<SenderKeyRecord | null> {
    const bytes = this.records.get(`${sender.toString()}/${id}`);
    return bytes === undefined ? null : SenderKeyRecord.deserialize(bytes);
  }
}

/** Ids of the prekeys a party published, chosen so that every id field has a distinct value. */
export interface PublishedIds {
  /** One-time EC prekey id, or null when the bundle carries none. */
  readonly preKeyId: number | null;
  /** Signed EC prekey id. */
  readonly signedPreKeyId: number;
  /** Kyber prekey id. */
  readonly kyberPreKeyId: number;
}

/** A libsignal party: identity, address, stores, and the ids of what it published. */
export interface Party {
  /** Account name (a UUID string, as libsignal's addresses expect). */
  readonly uuid: string;
  /** The party's address (uuid, device 1). */
  readonly address: ProtocolAddress;
  /** Identity key pair. */
  readonly identity: IdentityKeyPair;
  /** Registration id. */
  readonly registrationId: number;
  /** Session store (in memory, records kept serialized as libsignal would persist them). */
  readonly sessions: SessionStore;
  /** Identity store: the party's identity and trust-on-first-use peer keys. */
  readonly identities: IdentityKeyStore;
  /** One-time EC prekey store. */
  readonly preKeys: PreKeyStore;
  /** Signed EC prekey store. */
  readonly signedPreKeys: SignedPreKeyStore;
  /** Kyber prekey store. */
  readonly kyberPreKeys: KyberPreKeyStore;
  /** Sender-key store (per sender address and distribution id). */
  readonly senderKeys: SenderKeyStore;
}

/** Creates a party with a fresh identity and empty stores. */
export function createParty(registrationId: number): Party {
  const identity = IdentityKeyPair.generate();
  const uuid = randomUUID();
  return {
    uuid,
    address: ProtocolAddress.new(uuid, DEVICE_ID),
    identity,
    registrationId,
    sessions: new MemorySessionStore(),
    identities: new MemoryIdentityStore(identity, registrationId),
    preKeys: new MemoryPreKeyStore(),
    signedPreKeys: new MemorySignedPreKeyStore(),
    kyberPreKeys: new MemoryKyberPreKeyStore(),
    senderKeys: new MemorySenderKeyStore(),
  };
}

/**
 * Generates and stores the party's prekeys under `ids` and returns the bundle a peer would fetch
 * (signatures over the serialized public keys, as libsignal requires).
 */
export async function publishBundle(party: Party, ids: PublishedIds): Promise<PreKeyBundle> {
  const timestamp = Date.now();
  const signed = PrivateKey.generate();
  const signedPublic = signed.getPublicKey();
  const signedSignature = party.identity.privateKey.sign(signedPublic.serialize());
  await party.signedPreKeys.saveSignedPreKey(
    ids.signedPreKeyId,
    SignedPreKeyRecord.new(ids.signedPreKeyId, timestamp, signedPublic, signed, signedSignature),
  );
  const kyber = KEMKeyPair.generate();
  const kyberSignature = party.identity.privateKey.sign(kyber.getPublicKey().serialize());
  await party.kyberPreKeys.saveKyberPreKey(
    ids.kyberPreKeyId,
    KyberPreKeyRecord.new(ids.kyberPreKeyId, timestamp, kyber, kyberSignature),
  );
  let oneTime: PublicKey | null = null;
  if (ids.preKeyId !== null) {
    const key = PrivateKey.generate();
    oneTime = key.getPublicKey();
    await party.preKeys.savePreKey(ids.preKeyId, PreKeyRecord.new(ids.preKeyId, oneTime, key));
  }
  return PreKeyBundle.new(
    party.registrationId,
    DEVICE_ID,
    ids.preKeyId,
    oneTime,
    ids.signedPreKeyId,
    signedPublic,
    signedSignature,
    party.identity.publicKey,
    ids.kyberPreKeyId,
    kyber.getPublicKey(),
    kyberSignature,
  );
}

/** UTF-8 bytes of a test plaintext, in the ArrayBuffer-backed form libsignal's API takes. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(Buffer.from(text, "utf8"));
}

/** `from` starts a session with `to` from a freshly published bundle of `to`. */
export async function startSession(from: Party, to: Party, ids: PublishedIds): Promise<void> {
  const bundle = await publishBundle(to, ids);
  await processPreKeyBundle(bundle, to.address, from.address, from.sessions, from.identities);
}

/** libsignal encrypts `plaintext` from `from` to `to` on their session. */
export async function sendSignal(from: Party, to: Party, plaintext: string): Promise<CiphertextMessage> {
  return signalEncrypt(utf8(plaintext), to.address, from.address, from.sessions, from.identities);
}

/** libsignal decrypts `message` (PreKey or Whisper type) at `at`, sent by `from`. */
export async function receiveSignal(at: Party, from: Party, message: CiphertextMessage): Promise<Uint8Array> {
  const bytes = message.serialize();
  if (message.type() === CiphertextMessageType.PreKey) {
    return signalDecryptPreKey(
      PreKeySignalMessage.deserialize(bytes),
      from.address,
      at.address,
      at.sessions,
      at.identities,
      at.preKeys,
      at.signedPreKeys,
      at.kyberPreKeys,
    );
  }
  return signalDecrypt(SignalMessage.deserialize(bytes), from.address, at.address, at.sessions, at.identities);
}
