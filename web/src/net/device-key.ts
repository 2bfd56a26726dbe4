/**
 * The browser's device key for the profile vault (client/vault/profile-vault.ts): one
 * non-extractable WebCrypto AES-GCM key kept in its own IndexedDB database. Page script can
 * use it but can never read its bytes, so nothing in storage is readable as text; the browser
 * itself keeps the key beside the data on disk, which is why the passphrase lock exists.
 *
 * Owns: creating, loading and deleting that key, and sealing the vault's data key with it.
 */

import type { DeviceKeyWrap } from "../../../client/vault/profile-vault.js";

/** The database holding the device key (apart from the client's, so deleting either is clean). */
export const DEVICE_KEY_DATABASE = "securecomm-device-key";
const OBJECT_STORE = "keys";
const KEY_ID = "vault-wrap";
const NONCE_LENGTH = 12;

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error("An IndexedDB request failed."));
  });
}

async function openDatabase(name: string): Promise<IDBDatabase> {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(OBJECT_STORE);
  return request(open);
}

/** Loads the device key, creating it (non-extractable) on first use. */
async function loadKey(name: string): Promise<CryptoKey> {
  const db = await openDatabase(name);
  try {
    const existing = await request(db.transaction(OBJECT_STORE, "readonly").objectStore(OBJECT_STORE).get(KEY_ID));
    if (existing instanceof CryptoKey) return existing;
    const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const tx = db.transaction(OBJECT_STORE, "readwrite", { durability: "strict" });
    tx.objectStore(OBJECT_STORE).put(key, KEY_ID);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error ?? new Error("The device key could not be stored."));
    });
    return key;
  } finally {
    db.close();
  }
}

/** The device key as the vault uses it. */
export async function openDeviceKey(name = DEVICE_KEY_DATABASE): Promise<DeviceKeyWrap> {
  const key = await loadKey(name);
  return {
    async seal(plaintext) {
      const nonce = crypto.getRandomValues(new Uint8Array(NONCE_LENGTH));
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, plaintext as Uint8Array<ArrayBuffer>));
      const out = new Uint8Array(NONCE_LENGTH + sealed.length);
      out.set(nonce);
      out.set(sealed, NONCE_LENGTH);
      return out;
    },
    async open(sealed) {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: sealed.slice(0, NONCE_LENGTH) },
        key,
        sealed.slice(NONCE_LENGTH),
      );
      return new Uint8Array(plain);
    },
  };
}

/** Deletes the device key's database ("delete everything"). */
export async function deleteDeviceKey(name = DEVICE_KEY_DATABASE): Promise<void> {
  await request(indexedDB.deleteDatabase(name) as unknown as IDBRequest<unknown>);
}
