/**
 * Sender-key records in the client's StateStore (client/sender-keys' `SenderKeyStore`).
 *
 * Owns: the key layout `sender-key/<room hex>/<sender>/<distribution id hex>` (sender keys are
 * per room, SK-10) and `deleteSenderKeys` for departures (RM-12). Writes go to the running
 * transaction.
 */

import { bytesToHex } from "../crypto/bytes.js";
import type { SenderKeyStore } from "../sender-keys/sender-key-store.js";
import type { StateStore } from "../store/state-store.js";

/** Prefix of sender-key records. */
export const SENDER_KEY_PREFIX = "sender-key/";

/** The sender-key store of one room. */
export class RoomSenderKeyStore implements SenderKeyStore {
  readonly #state: StateStore;
  readonly #room: string;

  constructor(state: StateStore, roomId: Uint8Array) {
    this.#state = state;
    this.#room = bytesToHex(roomId);
  }

  #key(sender: string, distributionId: Uint8Array): string {
    return `${SENDER_KEY_PREFIX}${this.#room}/${sender}/${bytesToHex(distributionId)}`;
  }

  async loadSenderKey(sender: string, distributionId: Uint8Array): Promise<Uint8Array | null> {
    return this.#state.get(this.#key(sender, distributionId)) ?? null;
  }

  async storeSenderKey(sender: string, distributionId: Uint8Array, record: Uint8Array): Promise<void> {
    const t = this.#state.active;
    if (t === undefined) throw new TypeError("sender key written outside a transaction");
    t.put(this.#key(sender, distributionId), record);
  }

  /** Deletes every record of `sender` in this room (RM-12), or of everyone when omitted. */
  deleteSenderKeys(sender?: string): void {
    const t = this.#state.active;
    if (t === undefined) throw new TypeError("sender key written outside a transaction");
    const prefix = `${SENDER_KEY_PREFIX}${this.#room}/${sender === undefined ? "" : sender + "/"}`;
    for (const [k] of t.list(prefix)) t.delete(k);
  }
}
