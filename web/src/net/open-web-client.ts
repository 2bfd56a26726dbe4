/**
 * The web app's one network client module (DESIGN.md §2: "`web/` builds its network clients in
 * one module").
 *
 * Owns: choosing the relay URL (the page's own origin unless told otherwise), opening the
 * IndexedDB store and the `SecureCommClient` on it, and deleting the local database. Does not
 * own: any protocol work (client/) or what the views show (state/, views/).
 */

import { openSecureCommClient, type SecureCommClient } from "../../../client/app/securecomm-client.js";
import {
  DEFAULT_DATABASE_NAME,
  deleteIndexedDbKeyValueStore,
  openIndexedDbKeyValueStore,
} from "../../../client/idb-store/idb-key-value-store.js";

/** Options of {@link openWebClient}. */
export interface WebClientOptions {
  /** Relay base URL; default the page's origin (the relay serves the app). */
  relayUrl?: string;
  /** IndexedDB database name; default the store's default. */
  databaseName?: string;
}

/** A client on the browser's IndexedDB and the relay that served the page. */
export async function openWebClient(options: WebClientOptions = {}): Promise<SecureCommClient> {
  const relayUrl = options.relayUrl ?? globalThis.location.origin;
  const store = await openIndexedDbKeyValueStore({ name: options.databaseName ?? DEFAULT_DATABASE_NAME });
  try {
    return await openSecureCommClient({ relayUrl, store });
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * Removes the local database entirely, after `client.deleteEverything()` cleared it and
 * `client.close()` released it, so not even an empty schema remains.
 */
export async function deleteLocalData(options: Pick<WebClientOptions, "databaseName"> = {}): Promise<void> {
  await deleteIndexedDbKeyValueStore({ name: options.databaseName ?? DEFAULT_DATABASE_NAME });
}
