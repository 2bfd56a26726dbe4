/**
 * Property tests (fast-check): any bit flip, truncation or extension of a message gives a
 * ProtocolError, never another exception, and leaves every store byte-for-byte unchanged
 * (spec DR-11, DR-13, PX-08).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, utf8 } from "../crypto/bytes.js";
import { isProtocolError } from "../errors.js";
import { LibsignalParty, OurParty, type Party } from "./parties.test-support.js";
import type { CiphertextMessage } from "./session-cipher.js";

/** Byte ranges [start, end) of the values of varint field `field` in a flat protobuf. */
function varintValueRanges(bytes: Uint8Array, field: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[i++] as number;
      v += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const start = i;
    if ((tag & 7) === 0) {
      varint();
      if (tag >>> 3 === field) ranges.push([start, i]);
    } else i += varint();
  }
  return ranges;
}

/** Asserts that decrypting `mutated` throws a ProtocolError and changes no store byte. */
async function expectRejectedWithoutChange(receiver: OurParty, from: Party, mutated: CiphertextMessage): Promise<void> {
  const before = receiver.store.snapshot();
  let caught: unknown;
  try {
    await receiver.decrypt(from.address, mutated);
  } catch (e) {
    caught = e;
  }
  expect(isProtocolError(caught), `expected a ProtocolError, got ${String(caught)}`).toBe(true);
  expect(receiver.store.snapshot()).toEqual(before);
}

interface Case {
  readonly name: string;
  /** fast-check runs per property: PreKey messages cost a KEM decapsulation each, so fewer. */
  readonly runs: number;
  /** The receiving party (ours), the sender and one valid message not yet delivered. */
  make(): Promise<{ receiver: OurParty; sender: Party; message: CiphertextMessage }>;
}

const cases: Case[] = [
  {
    name: "libsignal's PreKeySignalMessage to a fresh responder",
    runs: 60,
    async make() {
      const receiver = await OurParty.create();
      const sender = new LibsignalParty();
      await sender.processBundle(receiver.address, await receiver.bundle(1));
      return { receiver, sender, message: await sender.encrypt(receiver.address, utf8("prekey message")) };
    },
  },
  {
    name: "libsignal's SignalMessage (with an SPQR chunk) on a running session",
    runs: 120,
    async make() {
      const receiver = await OurParty.create();
      const sender = new LibsignalParty();
      await sender.processBundle(receiver.address, await receiver.bundle(1));
      await receiver.decrypt(sender.address, await sender.encrypt(receiver.address, utf8("setup")));
      await sender.decrypt(receiver.address, await receiver.encrypt(sender.address, utf8("reply")));
      return { receiver, sender, message: await sender.encrypt(receiver.address, utf8("signal message")) };
    },
  },
  {
    name: "our SignalMessage on a running session",
    runs: 120,
    async make() {
      const receiver = await OurParty.create();
      const sender = await OurParty.create();
      await sender.builder.processPreKeyBundle(receiver.address, await receiver.bundle(1));
      await receiver.decrypt(sender.address, await sender.encrypt(receiver.address, utf8("setup")));
      await sender.decrypt(receiver.address, await receiver.encrypt(sender.address, utf8("reply")));
      // One message already delivered after a skip, so skipped keys exist too.
      await sender.encrypt(receiver.address, utf8("skipped"));
      return { receiver, sender, message: await sender.encrypt(receiver.address, utf8("signal message")) };
    },
  },
];

describe.each(cases)("tampering with $name", (c) => {
  it("every bit flip is a ProtocolError with no store change (DR-11, DR-13)", async () => {
    const { receiver, sender, message } = await c.make();
    // registration_id (PreKeySignalMessage field 5) is not authenticated, in libsignal as here:
    // it only labels the peer, so flips of its value bits are left out.
    const excluded =
      message.type === 3 ? varintValueRanges(message.body.subarray(1), 5).map(([s, e]) => [s + 1, e + 1]) : [];
    const bits = message.body.length * 8;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(bits - 1).filter((bit) => !excluded.some(([s, e]) => bit >> 3 >= (s as number) && bit >> 3 < (e as number))),
        async (bit) => {
          const body = Uint8Array.from(message.body);
          body[bit >> 3] = (body[bit >> 3] as number) ^ (1 << (bit & 7));
          await expectRejectedWithoutChange(receiver, sender, { type: message.type, body });
        },
      ),
      { numRuns: c.runs },
    );
    // The untouched message still decrypts afterwards: nothing was consumed.
    expect(await receiver.decrypt(sender.address, message)).toBeInstanceOf(Uint8Array);
  });

  it("every truncation and every extension is a ProtocolError with no store change", async () => {
    const { receiver, sender, message } = await c.make();
    await fc.assert(
      fc.asyncProperty(fc.nat(message.body.length - 1), async (length) => {
        await expectRejectedWithoutChange(receiver, sender, { type: message.type, body: message.body.slice(0, length) });
      }),
      { numRuns: Math.ceil(c.runs / 2) },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 40 }), async (extra) => {
        await expectRejectedWithoutChange(receiver, sender, { type: message.type, body: concatBytes(message.body, extra) });
      }),
      { numRuns: Math.ceil(c.runs / 2) },
    );
    // Delivered under the other type, the message is refused too.
    await expectRejectedWithoutChange(receiver, sender, { type: message.type === 3 ? 2 : 3, body: message.body });
    expect(await receiver.decrypt(sender.address, message)).toBeInstanceOf(Uint8Array);
  });
});

describe("arbitrary input", () => {
  it("random bytes of either type are a ProtocolError with no store change", async () => {
    const receiver = await OurParty.create();
    const sender = new LibsignalParty();
    await sender.processBundle(receiver.address, await receiver.bundle(1));
    await receiver.decrypt(sender.address, await sender.encrypt(receiver.address, utf8("setup")));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(2 as const, 3 as const), fc.boolean(), fc.uint8Array({ maxLength: 200 }), async (type, versioned, bytes) => {
        const body = versioned ? concatBytes(Uint8Array.of(0x44), bytes) : bytes;
        await expectRejectedWithoutChange(receiver, sender, { type, body });
      }),
      { numRuns: 300 },
    );
  });
});
