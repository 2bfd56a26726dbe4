/**
 * Mailbox acknowledgements sent beside the stream instead of in its way (spec API-14, API-15).
 *
 * Owns: `AckQueue`: ids the handler has committed are queued and sent by one AckMessages call
 * at a time (at most MAX_ACK_IDS per call); ids committed while a call is in flight go in the
 * next one. The stream's next batch is processed meanwhile instead of waiting one relay round
 * trip per batch (a joiner takes a Welcome from every member of the room, issue 14). Only
 * committed ids are ever queued, so an envelope is still acknowledged only after its effects
 * are stored; an id whose ack is lost is delivered again and acknowledged as a duplicate.
 * Does not own: the stream (subscription.ts), what envelopes mean (client/room).
 */

/** AckMessages takes at most 1,000 ids per call (API-15). */
export const MAX_ACK_IDS = 1000;

/** Sends committed mailbox ids, one call at a time, off the stream's path. */
export class AckQueue {
  readonly #send: (ids: bigint[]) => Promise<unknown>;
  readonly #onError: (e: unknown) => void;
  #pending: bigint[] = [];
  #flushing: Promise<void> | undefined;

  /**
   * `send` is one AckMessages call; `onError` hears its failure (the queued ids are dropped:
   * the relay delivers them again, and the caller reconnects).
   */
  constructor(send: (ids: bigint[]) => Promise<unknown>, onError: (e: unknown) => void) {
    this.#send = send;
    this.#onError = onError;
  }

  /** Queues committed ids and starts sending if no call is in flight. */
  add(ids: readonly bigint[]): void {
    this.#pending.push(...ids);
    this.#kick();
  }

  /** Resolves once every queued id was sent (or dropped after a failure). Never rejects. */
  async drain(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
  }

  #kick(): void {
    if (this.#flushing !== undefined || this.#pending.length === 0) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
      this.#kick();
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_ACK_IDS);
      try {
        await this.#send(batch);
      } catch (e) {
        this.#pending = [];
        this.#onError(e);
        return;
      }
    }
  }
}
