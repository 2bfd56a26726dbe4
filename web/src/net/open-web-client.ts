/**
 * The web app's one network client module (DESIGN.md §2: "`web/` builds its network clients in
 * one module").
 *
 * Owns: choosing the relay URL (the page's own origin unless told otherwise), opening the
 * IndexedDB store inside the profile vault (client/vault: every entry encrypted; a passphrase
 * may lock it), the `SecureCommClient` on the vault's client store, and deleting the local
 * databases. Does not own: any protocol work (client/) or what the views show (state/, views/).
 */

import { openSecureCommClient, type SecureCommClient } from "../../../client/app/securecomm-client.js";
import {
  DEFAULT_DATABASE_NAME,
  deleteIndexedDbKeyValueStore,
  openIndexedDbKeyValueStore,
} from "../../../client/idb-store/idb-key-value-store.js";
import { openProfileVault, type OpenedVault, type ProfileVault } from "../../../client/vault/profile-vault.js";
import { deleteDeviceKey, openDeviceKey } from "./device-key.js";

/** Options of {@link openWebProfile} and {@link openWebClient}. */
export interface WebClientOptions {
  /** Relay base URL; default the page's origin (the relay serves the app). */
  relayUrl?: string;
  /** IndexedDB database name; default the store's default. */
  databaseName?: string;
}

/** Opens this browser profile's vault: ready, or waiting for its passphrase. */
export async function openWebProfile(options: WebClientOptions = {}): Promise<OpenedVault> {
  const store = await openIndexedDbKeyValueStore({ name: options.databaseName ?? DEFAULT_DATABASE_NAME });
  try {
    return await openProfileVault(store, await openDeviceKey());
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** A client on the vault's client store and the relay that served the page. */
export async function openWebClient(vault: ProfileVault, options: WebClientOptions = {}): Promise<SecureCommClient> {
  const relayUrl = options.relayUrl ?? globalThis.location.origin;
  return openSecureCommClient({ relayUrl, store: vault.clientStore });
}

/**
 * Removes the local databases entirely (the client's and the device key's), after
 * `client.deleteEverything()` cleared it and the vault was closed, so not even an empty schema
 * remains.
 */
export async function deleteLocalData(options: Pick<WebClientOptions, "databaseName"> = {}): Promise<void> {
  await deleteIndexedDbKeyValueStore({ name: options.databaseName ?? DEFAULT_DATABASE_NAME });
  await deleteDeviceKey();
}
