/**
 * A client's network path as a test breaks it: a fetch wrapper in front of the real relay
 * that can be cut (requests fail as a refused connection would, open streams break) and that
 * can let `PostToRoom` requests through to the relay and then lose their answers (the relay
 * stores the post; the client sees a socket error), the ambiguous send of issue 16. Tests
 * only; the relay behind it is real.
 */

const POST_TO_ROOM = "/securecomm.relay.v1.RoomService/PostToRoom";

/** The fault switches of one client's network. */
export class FlakyNetwork {
  /** While true, every new request fails before reaching the relay. */
  down = false;
  /** The next this-many PostToRoom answers are lost after the relay handled the request. */
  losePostAnswers = 0;
  /** PostToRoom requests that reached the relay. */
  postsDelivered = 0;
  /** PostToRoom answers lost on purpose. */
  answersLost = 0;
  readonly #streams = new Set<AbortController>();

  /** Cuts the network: new requests fail and open streams break. */
  cut(): void {
    this.down = true;
    for (const c of this.#streams) c.abort(new TypeError("network cut"));
    this.#streams.clear();
  }

  /** Restores the network. */
  restore(): void {
    this.down = false;
  }

  /** The fetch to give the client. */
  fetch(real: typeof fetch = globalThis.fetch): typeof fetch {
    return async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (this.down) throw new TypeError("fetch failed");
      if (url.endsWith("/securecomm.relay.v1.MessageService/Subscribe")) {
        const ctl = new AbortController();
        const outer = init?.signal;
        outer?.addEventListener("abort", () => ctl.abort(outer.reason));
        this.#streams.add(ctl);
        try {
          return await real(input, { ...init, signal: ctl.signal });
        } catch (e) {
          this.#streams.delete(ctl);
          throw e;
        }
      }
      if (!url.endsWith(POST_TO_ROOM)) return real(input, init);
      const res = await real(input, init);
      this.postsDelivered++;
      if (this.losePostAnswers > 0) {
        this.losePostAnswers--;
        this.answersLost++;
        await res.arrayBuffer().catch(() => undefined); // the relay answered; we drop it
        throw new TypeError("fetch failed");
      }
      return res;
    };
  }
}
