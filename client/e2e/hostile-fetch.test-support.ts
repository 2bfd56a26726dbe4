/**
 * A hostile relay, as one client sees it: a fetch wrapper between that client and the real
 * relay that tampers with what the relay sends. It parses Connect's binary framing (unary
 * bodies are one message; streams are frames of flags(1) ‖ length(4, big-endian) ‖ message)
 * and rewrites Subscribe events and FetchPreKeyBundle answers according to rules the test
 * switches on. Tests only.
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FetchPreKeyBundleResponseSchema, type PreKeyBundle } from "../../gen/securecomm/relay/v1/keys_pb.js";
import { RoomEnvelopeSchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { type RoomEvent, SubscribeResponseSchema, type SubscribeResponse } from "../../gen/securecomm/relay/v1/messages_pb.js";

/** What happens to the n-th stored room event (1-based) after `armRoom()`. */
export type RoomRule = "flip" | "drop" | "hold-until-next" | "replace-with-captured-join" | "duplicate" | "forge";

/** The adversary's controls. */
export class HostileRelay {
  /** Bundles to hand out instead of the genuine one (consumed one per fetch). */
  substituteBundles: PreKeyBundle[] = [];
  /** How many bundle fetches were substituted. */
  substituted = 0;
  #rules = new Map<number, RoomRule>();
  #count = 0;
  #armed = false;
  #held: RoomEvent | undefined;
  /** Stored room events carrying joins as seen on the stream (captured for replays). */
  capturedJoins: RoomEvent[] = [];
  /** When set, every mailbox envelope is delivered twice and followed by a bit-flipped copy. */
  tamperMailbox = false;
  /** How many forged mailbox envelopes were injected. */
  forgedMailbox = 0;
  /**
   * Envelopes the relay puts in place of the next stored room events on the stream (same seq):
   * to the victim, the relay appended them to the log there. Consumed one per event.
   */
  injected: Uint8Array[] = [];
  /** Applied rule names, for the test to check the attack really ran. */
  applied: RoomRule[] = [];

  /** Starts counting stored room events and applies `rules` by position. */
  armRoom(rules: Record<number, RoomRule>): void {
    this.#rules = new Map(Object.entries(rules).map(([k, v]) => [Number(k), v]));
    this.#count = 0;
    this.#armed = true;
  }

  /** Stops tampering with room events. */
  disarm(): void {
    this.#armed = false;
  }

  /** The fetch to give the victim client. */
  fetch(real: typeof fetch = globalThis.fetch): typeof fetch {
    return async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const res = await real(input, init);
      if (url.endsWith("/securecomm.relay.v1.KeyService/FetchPreKeyBundle") && res.ok && this.substituteBundles.length > 0) {
        const genuine = fromBinary(FetchPreKeyBundleResponseSchema, new Uint8Array(await res.arrayBuffer()));
        void genuine;
        const fake = this.substituteBundles.shift()!;
        this.substituted++;
        const body = toBinary(FetchPreKeyBundleResponseSchema, create(FetchPreKeyBundleResponseSchema, { result: { case: "bundle", value: fake } }));
        return new Response(body, { status: 200, headers: res.headers });
      }
      if (url.endsWith("/securecomm.relay.v1.MessageService/Subscribe") && res.ok && res.body !== null) {
        return new Response(this.#rewriteStream(res.body), { status: res.status, headers: res.headers });
      }
      return res;
    };
  }

  #rewriteStream(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    let buf = new Uint8Array(0);
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        for (;;) {
          if (buf.length >= 5) {
            const len = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
            if (buf.length >= 5 + len) {
              const flags = buf[0]!;
              const payload = buf.slice(5, 5 + len);
              buf = buf.slice(5 + len);
              if (flags !== 0) {
                controller.enqueue(frame(flags, payload));
                return;
              }
              const outs = this.#rewrite(fromBinary(SubscribeResponseSchema, payload));
              for (const out of outs) controller.enqueue(frame(0, toBinary(SubscribeResponseSchema, out)));
              // A pull must enqueue something or the stream is not pulled again.
              if (outs.length > 0) return;
              continue;
            }
          }
          const { done, value } = await reader.read();
          if (done) {
            controller.close();
            return;
          }
          const next = new Uint8Array(buf.length + value.length);
          next.set(buf);
          next.set(value, buf.length);
          buf = next;
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
  }

  #rewrite(msg: SubscribeResponse): SubscribeResponse[] {
    if (msg.event.case === "mailbox" && this.tamperMailbox) {
      const envelopes = msg.event.value.envelopes.flatMap((e) => {
        const flipped = e.envelope.slice();
        flipped[flipped.length - 5]! ^= 0x10;
        this.forgedMailbox++;
        // The genuine one, a replay of it (same id), and a forgery under an id the relay never used.
        return [e, e, { ...e, id: e.id + 1_000_000_000n, envelope: flipped }];
      });
      return [{ ...msg, event: { case: "mailbox", value: { ...msg.event.value, envelopes } } }];
    }
    if (msg.event.case !== "room") return [msg];
    const out: RoomEvent[] = [];
    for (const ev of msg.event.value.events) {
      if (ev.ephemeral) {
        out.push(ev);
        continue;
      }
      const inject = this.injected.shift();
      if (inject !== undefined) {
        out.push({ ...ev, envelope: inject });
        continue;
      }
      if (!this.#armed) {
        // Joins are the only stored events before any sender-key message in a fresh room's
        // setup phase; the test arms after setup, so everything seen unarmed is capturable.
        this.capturedJoins.push(ev);
        out.push(ev);
        continue;
      }
      const n = ++this.#count;
      const rule = this.#rules.get(n);
      if (rule !== undefined) this.applied.push(rule);
      switch (rule) {
        case "flip": {
          const env = ev.envelope.slice();
          env[env.length - 3]! ^= 0x40;
          out.push({ ...ev, envelope: env });
          break;
        }
        case "drop":
          break;
        case "hold-until-next":
          this.#held = ev;
          continue;
        case "replace-with-captured-join":
          out.push({ ...ev, envelope: this.capturedJoins[0]!.envelope });
          break;
        case "duplicate":
          out.push(ev, ev);
          break;
        case "forge": {
          // A "join" the relay makes up: a well-formed RoomEnvelope it cannot key.
          const forged = create(RoomEnvelopeSchema, {
            epoch: 0,
            nonce: crypto.getRandomValues(new Uint8Array(12)),
            ciphertext: crypto.getRandomValues(new Uint8Array(320)),
          });
          out.push({ ...ev, envelope: toBinary(RoomEnvelopeSchema, forged) });
          break;
        }
        default:
          out.push(ev);
      }
      if (this.#held !== undefined) {
        out.push(this.#held); // reordered: the held earlier event now comes after a later one
        this.#held = undefined;
      }
    }
    if (out.length === 0) return [];
    return [{ ...msg, event: { case: "room", value: { ...msg.event.value, events: out } } }];
  }
}

function frame(flags: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}
