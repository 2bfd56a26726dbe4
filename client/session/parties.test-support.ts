/**
 * Test support (never product code): parties for session tests, ours and libsignal's.
 *
 * Owns: `OurParty` (the production protocol store over memory, TestProtocolStore, with generated prekeys, SessionBuilder and
 * SessionCipher) and `LibsignalParty` (libsignal-client 0.103 with in-memory subclasses of its
 * abstract stores), bundle conversion between the two, and small helpers. libsignal is the
 * test oracle only (AGPL devDependency): nothing outside `*.test*.ts` files imports it.
 */

import * as ls from "@signalapp/libsignal-client";
import { create } from "@bufbuild/protobuf";
import {
  KyberPreKeyRecordSchema,
  PreKeyRecordSchema,
  SignedPreKeyRecordSchema,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import { randomBytes } from "../crypto/bytes.js";
import { KeyPair, PublicKey } from "../crypto/curve.js";
import { KemKeyPair, KemPublicKey } from "../crypto/kem.js";
import type { PreKeyBundle } from "../handshake/prekey-bundle.js";
import { addressFromIdentityKey, addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import { TestProtocolStore } from "../store/protocol-store.test-support.js";
import { bytesToUuid, createProtocolAddress, type ProtocolAddress } from "../store/protocol-address.js";
import { SessionBuilder } from "./session-builder.js";
import { type CiphertextMessage, SessionCipher } from "./session-cipher.js";

/** The fixed clock of test parties (Unix ms), so store snapshots are deterministic. */
export const TEST_NOW_MS = 1_700_000_000_000;

/** A fresh random lowercase UUID (address names in tests). */
export function randomUuid(): string {
  return bytesToUuid(randomBytes(16));
}

/** A copy with an ArrayBuffer backing, as libsignal's typings want. */
export function ab(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

/** Options for the prekeys a party publishes. */
export interface PrekeyOptions {
  /** Number of one-time EC prekeys (ids 1..n). */
  readonly oneTimePreKeys?: number;
  /** Whether the Kyber prekey is a last-resort key (kept after use). */
  readonly lastResortKyber?: boolean;
  /** The address name (a UUID); the address of the identity key when omitted (ID-03). */
  readonly name?: string;
  /** Whether this party requires peers' addresses to match their identity keys (default true). */
  readonly addressBinding?: boolean;
}

/** Our implementation as a party in tests. */
export class OurParty {
  readonly identity: KeyPair;
  readonly registrationId: number;
  readonly address: ProtocolAddress;
  readonly store: TestProtocolStore;
  readonly builder: SessionBuilder;
  readonly cipher: SessionCipher;
  readonly signedPreKeyId = 7;
  readonly kyberPreKeyId = 9;
  #nextPreKeyId = 1;

  private constructor(identity: KeyPair, registrationId: number, name: string, addressBinding: boolean, store: TestProtocolStore) {
    this.identity = identity;
    this.registrationId = registrationId;
    this.address = createProtocolAddress(name, 1);
    this.store = store;
    this.builder = new SessionBuilder(this.store, { now: () => TEST_NOW_MS, addressBinding });
    this.cipher = new SessionCipher(this.store, { now: () => TEST_NOW_MS, addressBinding });
  }

  /** A party with a signed prekey, a Kyber prekey and `oneTimePreKeys` one-time prekeys. */
  static async create(options: PrekeyOptions = {}): Promise<OurParty> {
    const identity = KeyPair.generate();
    const registrationId = 1 + Math.floor(Math.random() * 16380);
    const party = new OurParty(
      identity,
      registrationId,
      options.name ?? addressToString(addressFromIdentityKey(identity.publicKey)),
      options.addressBinding ?? true,
      await TestProtocolStore.open(identity, registrationId, () => TEST_NOW_MS),
    );
    const signed = KeyPair.generate();
    await party.store.storeSignedPreKey(
      create(SignedPreKeyRecordSchema, {
        id: party.signedPreKeyId,
        publicKey: signed.publicKey.serialize(),
        privateKey: signed.privateKey.serialize(),
        signature: party.identity.privateKey.sign(signed.publicKey.serialize()),
        createdAtMs: 1_700_000_000_000n,
      }),
    );
    const kyber = KemKeyPair.generate();
    await party.store.storeKyberPreKey(
      create(KyberPreKeyRecordSchema, {
        id: party.kyberPreKeyId,
        publicKey: kyber.publicKey.serialize(),
        secretKey: kyber.secretKey.serialize(),
        signature: party.identity.privateKey.sign(kyber.publicKey.serialize()),
        createdAtMs: 1_700_000_000_000n,
        lastResort: options.lastResortKyber ?? false,
      }),
    );
    for (let i = 0; i < (options.oneTimePreKeys ?? 1); i++) await party.addOneTimePreKey();
    return party;
  }

  /** Removes the stored session with `peer` (as if it were lost). */
  async forgetSession(peer: ProtocolAddress): Promise<void> {
    await this.store.deleteSession(peer);
  }

  /** Adds one more one-time prekey. */
  async addOneTimePreKey(): Promise<number> {
    const id = this.#nextPreKeyId++;
    const pair = KeyPair.generate();
    await this.store.storePreKey(
      create(PreKeyRecordSchema, { id, publicKey: pair.publicKey.serialize(), privateKey: pair.privateKey.serialize() }),
    );
    return id;
  }

  /** Our bundle, using one-time prekey `preKeyId` if given (as the relay would hand it out). */
  async bundle(preKeyId?: number): Promise<PreKeyBundle> {
    const signed = await this.store.loadSignedPreKey(this.signedPreKeyId);
    const kyber = await this.store.loadKyberPreKey(this.kyberPreKeyId);
    if (signed === undefined || kyber === undefined) throw new Error("test party lost its prekeys");
    const oneTime = preKeyId === undefined ? undefined : await this.store.loadPreKey(preKeyId);
    return {
      registrationId: this.registrationId,
      deviceId: 1,
      preKeyId: oneTime?.id,
      preKey: oneTime === undefined ? undefined : PublicKey.deserialize(oneTime.publicKey),
      signedPreKeyId: signed.id,
      signedPreKey: PublicKey.deserialize(signed.publicKey),
      signedPreKeySignature: signed.signature,
      identityKey: this.identity.publicKey,
      kyberPreKeyId: kyber.id,
      kyberPreKey: KemPublicKey.deserialize(kyber.publicKey),
      kyberPreKeySignature: kyber.signature,
    };
  }

  encrypt(to: ProtocolAddress, plaintext: Uint8Array): Promise<CiphertextMessage> {
    return this.cipher.encrypt(to, plaintext);
  }

  decrypt(from: ProtocolAddress, message: CiphertextMessage): Promise<Uint8Array> {
    return this.cipher.decryptMessage(from, message);
  }
}

export class LsSessionStore extends ls.SessionStore {
  readonly map = new Map<string, Uint8Array<ArrayBuffer>>();
  async saveSession(name: ls.ProtocolAddress, record: ls.SessionRecord): Promise<void> {
    this.map.set(name.toString(), record.serialize());
  }
  async getSession(name: ls.ProtocolAddress): Promise<ls.SessionRecord | null> {
    const bytes = this.map.get(name.toString());
    return bytes === undefined ? null : ls.SessionRecord.deserialize(bytes);
  }
  async getExistingSessions(addresses: ls.ProtocolAddress[]): Promise<ls.SessionRecord[]> {
    return addresses.flatMap((a) => {
      const bytes = this.map.get(a.toString());
      return bytes === undefined ? [] : [ls.SessionRecord.deserialize(bytes)];
    });
  }
}

export class LsIdentityStore extends ls.IdentityKeyStore {
  readonly trusted = new Map<string, ls.PublicKey>();
  constructor(
    readonly identity: ls.IdentityKeyPair,
    readonly registrationId: number,
  ) {
    super();
  }
  async getIdentityKey(): Promise<ls.PrivateKey> {
    return this.identity.privateKey;
  }
  async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }
  async saveIdentity(name: ls.ProtocolAddress, key: ls.PublicKey): Promise<ls.IdentityChange> {
    const old = this.trusted.get(name.name());
    this.trusted.set(name.name(), key);
    return old !== undefined && !old.equals(key) ? ls.IdentityChange.ReplacedExisting : ls.IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(name: ls.ProtocolAddress, key: ls.PublicKey): Promise<boolean> {
    const old = this.trusted.get(name.name());
    return old === undefined || old.equals(key);
  }
  async getIdentity(name: ls.ProtocolAddress): Promise<ls.PublicKey | null> {
    return this.trusted.get(name.name()) ?? null;
  }
}

export class LsPreKeyStore extends ls.PreKeyStore {
  readonly map = new Map<number, ls.PreKeyRecord>();
  async savePreKey(id: number, record: ls.PreKeyRecord): Promise<void> {
    this.map.set(id, record);
  }
  async getPreKey(id: number): Promise<ls.PreKeyRecord> {
    const r = this.map.get(id);
    if (r === undefined) throw new Error("no such prekey");
    return r;
  }
  async removePreKey(id: number): Promise<void> {
    this.map.delete(id);
  }
}

export class LsSignedPreKeyStore extends ls.SignedPreKeyStore {
  readonly map = new Map<number, ls.SignedPreKeyRecord>();
  async saveSignedPreKey(id: number, record: ls.SignedPreKeyRecord): Promise<void> {
    this.map.set(id, record);
  }
  async getSignedPreKey(id: number): Promise<ls.SignedPreKeyRecord> {
    const r = this.map.get(id);
    if (r === undefined) throw new Error("no such signed prekey");
    return r;
  }
}

export class LsKyberPreKeyStore extends ls.KyberPreKeyStore {
  readonly map = new Map<number, ls.KyberPreKeyRecord>();
  readonly used: Array<[number, number]> = [];
  async saveKyberPreKey(id: number, record: ls.KyberPreKeyRecord): Promise<void> {
    this.map.set(id, record);
  }
  async getKyberPreKey(id: number): Promise<ls.KyberPreKeyRecord> {
    const r = this.map.get(id);
    if (r === undefined) throw new Error("no such kyber prekey");
    return r;
  }
  async markKyberPreKeyUsed(id: number, signedPreKeyId: number): Promise<void> {
    this.used.push([id, signedPreKeyId]);
  }
}

/** libsignal-client as a party in tests (the oracle). */
export class LibsignalParty {
  readonly identity = ls.IdentityKeyPair.generate();
  readonly registrationId = 1 + Math.floor(Math.random() * 16380);
  /** The SecureComm address of libsignal's identity key (ID-03), so address binding holds. */
  readonly name = addressToString(addressFromSerializedIdentityKey(this.identity.publicKey.serialize()));
  /** Our-side address of this party. */
  readonly address: ProtocolAddress = createProtocolAddress(this.name, 1);
  readonly lsAddress = ls.ProtocolAddress.new(this.name, 1);
  readonly sessions = new LsSessionStore();
  readonly identities = new LsIdentityStore(this.identity, this.registrationId);
  readonly preKeys = new LsPreKeyStore();
  readonly signedPreKeys = new LsSignedPreKeyStore();
  readonly kyberPreKeys = new LsKyberPreKeyStore();

  /** A bundle (with a one-time prekey when `withOneTime`), in our type. */
  bundle(withOneTime = true): PreKeyBundle {
    const signed = ls.PrivateKey.generate();
    const signedSig = this.identity.privateKey.sign(signed.getPublicKey().serialize());
    this.signedPreKeys.map.set(3, ls.SignedPreKeyRecord.new(3, Date.now(), signed.getPublicKey(), signed, signedSig));
    const kyber = ls.KEMKeyPair.generate();
    const kyberSig = this.identity.privateKey.sign(kyber.getPublicKey().serialize());
    this.kyberPreKeys.map.set(5, ls.KyberPreKeyRecord.new(5, Date.now(), kyber, kyberSig));
    const oneTime = ls.PrivateKey.generate();
    if (withOneTime) this.preKeys.map.set(11, ls.PreKeyRecord.new(11, oneTime.getPublicKey(), oneTime));
    return {
      registrationId: this.registrationId,
      deviceId: 1,
      preKeyId: withOneTime ? 11 : undefined,
      preKey: withOneTime ? PublicKey.deserialize(oneTime.getPublicKey().serialize()) : undefined,
      signedPreKeyId: 3,
      signedPreKey: PublicKey.deserialize(signed.getPublicKey().serialize()),
      signedPreKeySignature: signedSig,
      identityKey: PublicKey.deserialize(this.identity.publicKey.serialize()),
      kyberPreKeyId: 5,
      kyberPreKey: KemPublicKey.deserialize(kyber.getPublicKey().serialize()),
      kyberPreKeySignature: kyberSig,
    };
  }

  /** Starts a session to `peer` from our-type bundle `bundle` via libsignal's processPreKeyBundle. */
  async processBundle(peer: ProtocolAddress, bundle: PreKeyBundle): Promise<void> {
    const lsBundle = ls.PreKeyBundle.new(
      bundle.registrationId,
      bundle.deviceId,
      bundle.preKeyId ?? null,
      bundle.preKey === undefined ? null : ls.PublicKey.deserialize(ab(bundle.preKey.serialize())),
      bundle.signedPreKeyId,
      ls.PublicKey.deserialize(ab(bundle.signedPreKey.serialize())),
      ab(bundle.signedPreKeySignature),
      ls.PublicKey.deserialize(ab(bundle.identityKey.serialize())),
      bundle.kyberPreKeyId,
      ls.KEMPublicKey.deserialize(ab(bundle.kyberPreKey.serialize())),
      ab(bundle.kyberPreKeySignature),
    );
    await ls.processPreKeyBundle(lsBundle, lsAddressOf(peer), this.lsAddress, this.sessions, this.identities);
  }

  async encrypt(to: ProtocolAddress, plaintext: Uint8Array): Promise<CiphertextMessage> {
    const m = await ls.signalEncrypt(ab(plaintext), lsAddressOf(to), this.lsAddress, this.sessions, this.identities);
    const type = m.type();
    if (type !== 2 && type !== 3) throw new Error("unexpected libsignal message type");
    return { type, body: m.serialize() };
  }

  async decrypt(from: ProtocolAddress, message: CiphertextMessage): Promise<Uint8Array> {
    if (message.type === 3) {
      return ls.signalDecryptPreKey(
        ls.PreKeySignalMessage.deserialize(ab(message.body)),
        lsAddressOf(from),
        this.lsAddress,
        this.sessions,
        this.identities,
        this.preKeys,
        this.signedPreKeys,
        this.kyberPreKeys,
      );
    }
    return ls.signalDecrypt(
      ls.SignalMessage.deserialize(ab(message.body)),
      lsAddressOf(from),
      this.lsAddress,
      this.sessions,
      this.identities,
    );
  }
}

/** libsignal's address for one of ours. */
export function lsAddressOf(address: ProtocolAddress): ls.ProtocolAddress {
  return ls.ProtocolAddress.new(address.name, address.deviceId);
}

/** A party of either implementation, as conversation drivers see it. */
export interface Party {
  readonly address: ProtocolAddress;
  encrypt(to: ProtocolAddress, plaintext: Uint8Array): Promise<CiphertextMessage>;
  decrypt(from: ProtocolAddress, message: CiphertextMessage): Promise<Uint8Array>;
}

/** A small seeded PRNG (mulberry32) for reproducible schedules. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A way to start a session between two parties, named for test titles. */
export interface PartySetup {
  readonly name: string;
  /** Returns [initiator, responder]. */
  make(): Promise<[Party, Party]>;
}

/** Sessions between us and libsignal, in both directions (interop and SPQR Braid tests). */
export const LIBSIGNAL_SETUPS: readonly PartySetup[] = [
  {
    name: "libsignal initiates to us",
    async make() {
      const us = await OurParty.create();
      const them = new LibsignalParty();
      await them.processBundle(us.address, await us.bundle(1));
      return [them, us];
    },
  },
  {
    name: "we initiate to libsignal",
    async make() {
      const us = await OurParty.create();
      const them = new LibsignalParty();
      await us.builder.processPreKeyBundle(them.address, them.bundle());
      return [us, them];
    },
  },
];
