/**
 * The profile vault: a whole client profile (identity, sessions, room secrets, room and display
 * names, local history) encrypted at rest inside any `KeyValueStore`, optionally locked by a
 * passphrase (DESIGN.md §6: "Local history is kept encrypted at rest … and an optional
 * passphrase lock for the whole profile (memory-hard KDF)"). The web app keeps it in IndexedDB.
 *
 * Owns: the layout inside the backing store (`vault/header`, `c/…` client state, `h/…`
 * history), the random data key and how it is wrapped (by a device key, or by a key derived
 * from a passphrase with the CLI file store's scrypt derivation, client/file-store/header.ts),
 * value encryption (AES-256-GCM, fresh nonce, the entry's key bound as associated data), and the
 * one-time migration of a profile written before encryption. Does not own: the device key's
 * storage (the web keeps a non-extractable WebCrypto key; `DeviceKeyWrap`), what entries mean.
 *
 * Entry keys stay readable in the backing store (prefix listing needs them); they hold record
 * kinds and random ids (room ids, addresses), never names, text or secrets.
 */

import { aes256GcmDecrypt, aes256GcmEncrypt, AES_GCM_NONCE_LENGTH, AES_GCM_TAG_LENGTH } from "../crypto/cipher.js";
import { bytesToHex, concatBytes, hexToBytes, randomBytes, utf8 } from "../crypto/bytes.js";
import type { KeyValueStore, KeyValueWrite } from "../store/kv-store.js";
import { DEFAULT_SCRYPT, type ScryptParams } from "../file-store/constants.js";
import { createHeader, unlockHeader, validateScryptParams } from "../file-store/header.js";
import { newPassphraseProblem } from "./passphrase-policy.js";

/** Backing-store key of the vault header (JSON; no secret in it). */
export const VAULT_HEADER_KEY = "vault/header";
/** Prefix of the client state's entries (what `openSecureCommClient` reads and writes). */
export const CLIENT_PREFIX = "c/";
/** Prefix of local history entries (client/vault/room-history.ts). */
export const HISTORY_PREFIX = "h/";
/** Version of the header format; a reader refuses any other. */
export const VAULT_VERSION = 1;
/** Associated-data label of entry values; the backing-store key follows it. */
const ENTRY_LABEL = "SecureComm profile vault v1 entry ";
/** Associated-data label of the wrapped data key. */
const WRAP_LABEL = "SecureComm profile vault v1 data key";
/** Length of the data key (AES-256). */
const DATA_KEY_LENGTH = 32;

/** Why a vault operation failed: a fixed code, never key bytes or content. */
export type VaultErrorCode = "wrong_passphrase" | "weak_passphrase" | "corrupt" | "closed";

/** A typed vault failure (messages are fixed sentences). */
export class VaultError extends Error {
  constructor(readonly code: VaultErrorCode, message = VAULT_ERROR_SENTENCES[code]) {
    super(message);
    this.name = "VaultError";
  }
}

const VAULT_ERROR_SENTENCES: Record<VaultErrorCode, string> = {
  wrong_passphrase: "Wrong passphrase.",
  weak_passphrase: "The passphrase is too short.",
  corrupt: "The stored profile is damaged or was altered.",
  closed: "The profile is closed.",
};

/** True when `e` is a VaultError (of `code`, if given). */
export function isVaultError(e: unknown, code?: VaultErrorCode): e is VaultError {
  return e instanceof VaultError && (code === undefined || e.code === code);
}

/**
 * Seals and opens the data key with a key that never leaves the device's key store (the web:
 * a non-extractable WebCrypto AES-GCM key in its own IndexedDB database).
 */
export interface DeviceKeyWrap {
  seal(plaintext: Uint8Array): Promise<Uint8Array>;
  open(sealed: Uint8Array): Promise<Uint8Array>;
}

/** How the data key is wrapped: by the device key, or by a passphrase-derived key. */
type Header =
  | { version: number; mode: "device"; wrapped: string }
  | { version: number; mode: "passphrase"; logN: number; r: number; p: number; salt: string; check: string; wrapped: string };

function parseHeader(bytes: Uint8Array): Header {
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch {
    throw new VaultError("corrupt");
  }
  const hex = (v: unknown) => typeof v === "string" && /^([0-9a-f]{2})+$/.test(v);
  if (typeof h !== "object" || h === null || h.version !== VAULT_VERSION || !hex(h.wrapped)) throw new VaultError("corrupt");
  if (h.mode === "device") return h as Header;
  if (h.mode === "passphrase" && hex(h.salt) && hex(h.check)) {
    try {
      validateScryptParams({ logN: h.logN, r: h.r, p: h.p } as ScryptParams);
    } catch {
      throw new VaultError("corrupt");
    }
    return h as Header;
  }
  throw new VaultError("corrupt");
}

function encodeHeader(h: Header): Uint8Array {
  return utf8(JSON.stringify(h));
}

function wrapKey(kek: Uint8Array, dataKey: Uint8Array): string {
  const nonce = randomBytes(AES_GCM_NONCE_LENGTH);
  return bytesToHex(concatBytes(nonce, aes256GcmEncrypt(kek, nonce, dataKey, utf8(WRAP_LABEL))));
}

function unwrapKey(kek: Uint8Array, wrapped: string): Uint8Array {
  const bytes = hexToBytes(wrapped);
  try {
    const key = aes256GcmDecrypt(kek, bytes.subarray(0, AES_GCM_NONCE_LENGTH), bytes.subarray(AES_GCM_NONCE_LENGTH), utf8(WRAP_LABEL));
    if (key.length !== DATA_KEY_LENGTH) throw new Error("length");
    return key;
  } catch {
    throw new VaultError("corrupt");
  }
}

/** An opened vault: the two stores the app uses, and the passphrase lock's controls. */
export interface ProfileVault {
  /** The client state (`openSecureCommClient({ store })`), encrypted entry by entry. */
  readonly clientStore: KeyValueStore;
  /** Local history (client/vault/room-history.ts), encrypted the same way. */
  readonly historyStore: KeyValueStore;
  /** True when a passphrase locks the profile. */
  readonly hasPassphrase: boolean;
  /** Locks the profile with `passphrase` (or changes it); `weak_passphrase` if too short. */
  setPassphrase(passphrase: string): Promise<void>;
  /** Removes the passphrase: the device key wraps the data key again. */
  removePassphrase(): Promise<void>;
  /** Closes the backing store and forgets the data key. */
  close(): Promise<void>;
}

/** The result of opening: ready, or waiting for the passphrase. */
export type OpenedVault =
  | { readonly locked: false; readonly vault: ProfileVault }
  | {
      readonly locked: true;
      /** Derives the key from `passphrase` (scrypt) and opens; `wrong_passphrase` if it is not it. */
      unlock(passphrase: string): Promise<ProfileVault>;
      /** Closes the backing store without unlocking. */
      close(): Promise<void>;
    };

/** Options of {@link openProfileVault}. */
export interface ProfileVaultOptions {
  /** Scrypt cost for a new passphrase; default the CLI store's (2^16, 8, 1). */
  scrypt?: ScryptParams;
}

/**
 * Opens the vault in `backing`. A store with no header is set up now: a fresh data key wrapped
 * by `device`, and any entries an older version wrote in the clear re-written encrypted under
 * `c/`, all in one atomic batch.
 */
export async function openProfileVault(backing: KeyValueStore, device: DeviceKeyWrap, options: ProfileVaultOptions = {}): Promise<OpenedVault> {
  const scrypt = options.scrypt ?? DEFAULT_SCRYPT;
  const stored = await backing.get(VAULT_HEADER_KEY);
  if (stored === undefined) {
    const dataKey = randomBytes(DATA_KEY_LENGTH);
    const legacy = await backing.list("");
    const header: Header = { version: VAULT_VERSION, mode: "device", wrapped: bytesToHex(await device.seal(dataKey)) };
    const batch: KeyValueWrite[] = [{ key: VAULT_HEADER_KEY, value: encodeHeader(header) }];
    for (const [key, value] of legacy) {
      batch.push({ key, value: undefined });
      batch.push({ key: CLIENT_PREFIX + key, value: sealEntry(dataKey, CLIENT_PREFIX + key, value) });
    }
    await backing.write(batch);
    return { locked: false, vault: new Vault(backing, device, dataKey, header, scrypt) };
  }
  const header = parseHeader(stored);
  if (header.mode === "device") {
    let dataKey: Uint8Array;
    try {
      dataKey = await device.open(hexToBytes(header.wrapped));
    } catch {
      throw new VaultError("corrupt");
    }
    return { locked: false, vault: new Vault(backing, device, dataKey, header, scrypt) };
  }
  return {
    locked: true,
    async unlock(passphrase) {
      let kek: Uint8Array;
      try {
        kek = await unlockHeader(
          { scrypt: { logN: header.logN, r: header.r, p: header.p }, salt: hexToBytes(header.salt), check: hexToBytes(header.check) },
          passphrase,
        );
      } catch {
        throw new VaultError("wrong_passphrase");
      }
      return new Vault(backing, device, unwrapKey(kek, header.wrapped), header, scrypt);
    },
    async close() {
      await backing.close?.();
    },
  };
}

function sealEntry(dataKey: Uint8Array, key: string, value: Uint8Array): Uint8Array {
  const nonce = randomBytes(AES_GCM_NONCE_LENGTH);
  return concatBytes(nonce, aes256GcmEncrypt(dataKey, nonce, value, utf8(ENTRY_LABEL + key)));
}

function openEntry(dataKey: Uint8Array, key: string, sealed: Uint8Array): Uint8Array {
  if (sealed.length < AES_GCM_NONCE_LENGTH + AES_GCM_TAG_LENGTH) throw new VaultError("corrupt");
  try {
    return aes256GcmDecrypt(dataKey, sealed.subarray(0, AES_GCM_NONCE_LENGTH), sealed.subarray(AES_GCM_NONCE_LENGTH), utf8(ENTRY_LABEL + key));
  } catch {
    // A value moved under another key, altered, or written under another data key.
    throw new VaultError("corrupt");
  }
}

class Vault implements ProfileVault {
  #dataKey: Uint8Array | undefined;
  #header: Header;
  readonly clientStore: KeyValueStore;
  readonly historyStore: KeyValueStore;

  constructor(
    private readonly backing: KeyValueStore,
    private readonly device: DeviceKeyWrap,
    dataKey: Uint8Array,
    header: Header,
    private readonly scrypt: ScryptParams,
  ) {
    this.#dataKey = dataKey;
    this.#header = header;
    this.clientStore = this.#view(CLIENT_PREFIX);
    this.historyStore = this.#view(HISTORY_PREFIX);
  }

  get hasPassphrase(): boolean {
    return this.#header.mode === "passphrase";
  }

  #key(): Uint8Array {
    if (this.#dataKey === undefined) throw new VaultError("closed");
    return this.#dataKey;
  }

  #view(prefix: string): KeyValueStore {
    return {
      get: async (key) => {
        const dataKey = this.#key();
        const sealed = await this.backing.get(prefix + key);
        return sealed === undefined ? undefined : openEntry(dataKey, prefix + key, sealed);
      },
      list: async (p) => {
        const dataKey = this.#key();
        return (await this.backing.list(prefix + p)).map(([k, v]): [string, Uint8Array] => [k.slice(prefix.length), openEntry(dataKey, k, v)]);
      },
      write: async (batch) => {
        const dataKey = this.#key();
        await this.backing.write(
          batch.map((w) => ({ key: prefix + w.key, value: w.value === undefined ? undefined : sealEntry(dataKey, prefix + w.key, w.value) })),
        );
      },
      // The app closes the vault, which closes the backing store once.
      close: async () => undefined,
    };
  }

  async setPassphrase(passphrase: string): Promise<void> {
    const problem = newPassphraseProblem(passphrase);
    if (problem !== undefined) throw new VaultError("weak_passphrase", problem);
    const { header, key } = await createHeader(passphrase, this.scrypt);
    const next: Header = {
      version: VAULT_VERSION,
      mode: "passphrase",
      logN: header.scrypt.logN,
      r: header.scrypt.r,
      p: header.scrypt.p,
      salt: bytesToHex(header.salt),
      check: bytesToHex(header.check),
      wrapped: wrapKey(key, this.#key()),
    };
    await this.backing.write([{ key: VAULT_HEADER_KEY, value: encodeHeader(next) }]);
    this.#header = next;
  }

  async removePassphrase(): Promise<void> {
    const next: Header = { version: VAULT_VERSION, mode: "device", wrapped: bytesToHex(await this.device.seal(this.#key())) };
    await this.backing.write([{ key: VAULT_HEADER_KEY, value: encodeHeader(next) }]);
    this.#header = next;
  }

  async close(): Promise<void> {
    this.#dataKey?.fill(0);
    this.#dataKey = undefined;
    await this.backing.close?.();
  }

  toString(): string {
    return "[ProfileVault]";
  }

  toJSON(): string {
    return "[ProfileVault]";
  }
}
