import { toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type PqBraid, PqBraidSchema, PqBraidStage } from "../../gen/securecomm/storage/v1/session_pb.js";
import { isProtocolError } from "../errors.js";
import { SPQR_MAX_EPOCHS } from "./constants.js";
import { BRAID_MAX_INCOMING_CHUNKS, braidReceive, braidSend, initBraid } from "./spqr-braid.js";
import { encodeSpqrMessage, parseSpqrMessage, SpqrType } from "./spqr-message.js";

const authKey = new Uint8Array(32).fill(9);

interface Sent {
  readonly bytes: Uint8Array;
  readonly key: Uint8Array;
}

/** Two Braid sides driven directly: `a` is the initiator. */
class Pair {
  a: PqBraid = initBraid(authKey, true);
  b: PqBraid = initBraid(authKey, false);
  send(fromA: boolean): Sent {
    const out = braidSend(fromA ? this.a : this.b, fromA);
    if (fromA) this.a = out.braid;
    else this.b = out.braid;
    return { bytes: out.message, key: out.key };
  }
  receive(toA: boolean, m: Sent): void {
    const out = braidReceive(toA ? this.a : this.b, toA, m.bytes);
    expect(out.key).toEqual(m.key);
    if (toA) this.a = out.braid;
    else this.b = out.braid;
  }
  /** Alternating delivery until both have sent in `epoch`. */
  runUntilEpoch(epoch: number): void {
    for (let i = 0; i < 400 && (Number(this.a.epoch) < epoch || Number(this.b.epoch) < epoch); i++) {
      this.receive(false, this.send(true));
      this.receive(true, this.send(false));
    }
    expect(Number(this.a.epoch)).toBeGreaterThanOrEqual(epoch);
  }
}

const snapshot = (b: PqBraid) => toBinary(PqBraidSchema, b);

/** Expects `f` to throw ProtocolError `code` and leave `state` byte-for-byte as it was. */
function expectRefused(state: PqBraid, code: string, f: () => unknown): void {
  const before = snapshot(state);
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(isProtocolError(caught)).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
  expect(snapshot(state)).toEqual(before);
}

describe("ML-KEM Braid state machine (spec PQ-12..PQ-17)", () => {
  it("PQ-12 epochs advance in turn and every key matches, under any delivery order (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 6 }), fc.nat(5)), { minLength: 60, maxLength: 160 }), (schedule) => {
        const p = new Pair();
        const inFlight: [Sent[], Sent[]] = [[], []]; // to A, to B
        for (const [fromA, burst, pick] of schedule) {
          for (let i = 0; i < burst; i++) inFlight[fromA ? 1 : 0].push(p.send(fromA));
          // Deliver some to the other side, out of order, and answer one.
          const q = inFlight[fromA ? 1 : 0];
          for (let i = 0; i < burst && q.length > 0; i++) p.receive(!fromA, q.splice(pick % q.length, 1)[0] as Sent);
          const back = inFlight[fromA ? 0 : 1];
          if (back.length > 0) p.receive(fromA, back.splice(0, 1)[0] as Sent);
        }
        expect(p.a.incoming.length).toBeLessThanOrEqual(BRAID_MAX_INCOMING_CHUNKS);
        expect(p.b.incoming.length).toBeLessThanOrEqual(BRAID_MAX_INCOMING_CHUNKS);
        expect(p.a.links.length).toBeLessThanOrEqual(SPQR_MAX_EPOCHS);
      }),
      { numRuns: 15 },
    );
    const p = new Pair();
    p.runUntilEpoch(4);
    expect(Number(p.b.epoch)).toBeGreaterThanOrEqual(4);
  });

  it("PQ-17 malformed or mutated SPQR bytes are a ProtocolError or accepted, never a crash, and never change the input (property)", () => {
    const p = new Pair();
    const sent: Sent[] = [];
    for (let i = 0; i < 50; i++) {
      sent.push(p.send(true));
      p.receive(true, p.send(false));
    }
    fc.assert(
      fc.property(fc.nat(49), fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.nat(40), fc.integer({ min: 0, max: 2 }), (which, junk, at, mode) => {
        const orig = (sent[which] as Sent).bytes;
        const bytes =
          mode === 0
            ? orig.slice(0, at % (orig.length + 1))
            : mode === 1
              ? Uint8Array.from([...orig.slice(0, at % (orig.length + 1)), ...junk])
              : orig.map((x, i) => (i === at % orig.length ? x ^ (1 + (junk[0] ?? 0) % 255) : x));
        const before = snapshot(p.b);
        try {
          braidReceive(p.b, false, bytes);
        } catch (e) {
          expect(isProtocolError(e)).toBe(true);
        }
        expect(snapshot(p.b)).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it("PQ-17 a peer that lies is refused without state change: wrong role, future epoch, forged header MAC, foreign key vector, forged ciphertext MAC", () => {
    const p = new Pair();
    // B before any header: a ct1 chunk (B's own role's type) and an Ek chunk (too early).
    const chunk = { index: 0, data: new Uint8Array(32) };
    expectRefused(p.b, "invalid_message", () => braidReceive(p.b, false, encodeSpqrMessage({ epoch: 1, index: 1, type: SpqrType.Ct1, chunk })));
    expectRefused(p.b, "invalid_message", () => braidReceive(p.b, false, encodeSpqrMessage({ epoch: 1, index: 1, type: SpqrType.Ek, chunk })));
    expectRefused(p.b, "invalid_message", () => braidReceive(p.b, false, encodeSpqrMessage({ epoch: 2, index: 1, type: SpqrType.None })));
    expectRefused(p.b, "invalid_message", () => braidReceive(p.b, false, encodeSpqrMessage({ epoch: 3, index: 1, type: SpqrType.None })));
    // A header whose MAC is not under the shared authenticator.
    let forged = p.b;
    for (let i = 0; i < 2; i++) {
      forged = braidReceive(forged, false, encodeSpqrMessage({ epoch: 1, index: i + 1, type: SpqrType.Hdr, chunk: { index: i, data: new Uint8Array(32).fill(i + 1) } })).braid;
    }
    expect(forged.incoming.length).toBe(2);
    expectRefused(forged, "bad_mac", () =>
      braidReceive(forged, false, encodeSpqrMessage({ epoch: 1, index: 3, type: SpqrType.Hdr, chunk: { index: 2, data: new Uint8Array(32).fill(3) } })),
    );

    // A key vector that does not hash to the header B received.
    const r = new Pair();
    for (let i = 0; i < 10 && r.b.stage !== PqBraidStage.CT1_SAMPLED; i++) {
      r.receive(false, r.send(true));
      r.receive(true, r.send(false));
    }
    expect(r.b.stage).toBe(PqBraidStage.CT1_SAMPLED);
    let bv = r.b;
    for (let i = 0; i < 35; i++) {
      bv = braidReceive(bv, false, encodeSpqrMessage({ epoch: 1, index: 800 + i, type: SpqrType.Ek, chunk: { index: i, data: new Uint8Array(32) } })).braid;
    }
    const lastV = bv;
    expectRefused(lastV, "invalid_key", () =>
      braidReceive(lastV, false, encodeSpqrMessage({ epoch: 1, index: 899, type: SpqrType.Ek, chunk: { index: 35, data: new Uint8Array(32) } })),
    );

    // Run to A waiting for ct2, then forge ct2 chunks: the ciphertext MAC fails.
    const q = new Pair();
    for (let i = 0; i < 200 && q.a.stage !== PqBraidStage.CT2_RECEIVING; i++) {
      q.receive(false, q.send(true));
      const fromB = q.send(false);
      if (parseSpqrMessage(fromB.bytes).type === SpqrType.Ct2) {
        // Deliver B's first ct2 chunk honestly, keep the rest back and forge them.
        q.receive(true, fromB);
        break;
      }
      q.receive(true, fromB);
    }
    expect(q.a.stage).toBe(PqBraidStage.CT2_RECEIVING);
    let a = q.a;
    for (let i = 1; i < 4; i++) {
      a = braidReceive(a, true, encodeSpqrMessage({ epoch: 1, index: 900 + i, type: SpqrType.Ct2, chunk: { index: i, data: new Uint8Array(32).fill(i) } })).braid;
    }
    const last = a;
    expectRefused(last, "bad_mac", () =>
      braidReceive(last, true, encodeSpqrMessage({ epoch: 1, index: 905, type: SpqrType.Ct2, chunk: { index: 4, data: new Uint8Array(32) } })),
    );
    // A never accepts Braid data of its own role from the peer.
    expectRefused(q.a, "invalid_message", () => braidReceive(q.a, true, encodeSpqrMessage({ epoch: 1, index: 950, type: SpqrType.Hdr, chunk })));
  });

  it("PQ-16 chunk buffers are bounded: repeated and surplus chunks are never stored", () => {
    const p = new Pair();
    const first = p.send(true);
    let b = braidReceive(p.b, false, first.bytes).braid;
    for (let i = 0; i < 20; i++) b = braidReceive(b, false, Uint8Array.from([...first.bytes.slice(0, 2), 50 + i, ...first.bytes.slice(3)])).braid;
    expect(b.incoming.length).toBe(1);
  });
});

describe("SPQR message bytes (spec PQ-04, PQ-09)", () => {
  const chunkHex = "00".repeat(32);
  it("PQ-09 parses the shapes libsignal sends and re-encodes them identically", () => {
    // None; Hdr chunk 0; Ct1Ack; Ek chunk 128 in message 128 (two-byte varints).
    for (const hex of ["01010100", `0101010100${chunkHex}`, "01012804", `01018001028001${chunkHex}`]) {
      const bytes = Uint8Array.from(Buffer.from(hex, "hex"));
      expect(encodeSpqrMessage(parseSpqrMessage(bytes))).toEqual(bytes);
    }
    const parity = parseSpqrMessage(Uint8Array.from(Buffer.from(`01018001028001${chunkHex}`, "hex")));
    expect(parity).toMatchObject({ epoch: 1, index: 128, type: SpqrType.Ek, chunk: { index: 128 } });
  });

  it("PQ-09 refuses unknown types, missing or surplus payload, non-minimal varints and oversized chunk indices", () => {
    for (const hex of [
      "01010107",
      "0101010100",
      `0101010100${"00".repeat(31)}`,
      `0101010100${"00".repeat(33)}`,
      "0101010000",
      "01012804ff",
      "0181000100",
      `01010101808004${"00".repeat(32)}`,
      "01000100",
      "01010000",
    ]) {
      expect(() => parseSpqrMessage(Uint8Array.from(Buffer.from(hex, "hex"))), hex).toThrow(expect.objectContaining({ code: "invalid_message" }));
    }
  });
});
