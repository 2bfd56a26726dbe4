// Properties of the attachment format (spec/09-rooms.md RM-71, RM-72, RM-73): round trip,
// bucket sizes, and refusal of any flipped bit, truncation, substitution or replay with a typed
// ProtocolError before anything is decrypted. Seeds are printed; a failing one becomes a named
// regression test.
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachmentPointerSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { useNodeCrypto } from "../crypto/node-crypto.js";
import { isProtocolError } from "../errors.js";
import { blobSizeFor, bucketSize, decryptAttachment, encryptAttachment, receiveAttachment, startAttachmentEncryption, MAX_ATTACHMENT_BYTES, MAX_BLOB_BYTES, MIN_BUCKET_BYTES } from "./attachment-format.js";
import { isValidPointer, MAX_THUMBNAIL_BYTES, safeFileName } from "./attachment-pointer.js";

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const params = (numRuns: number) => ({ seed: SEED, numRuns });
console.log(`attachment-format properties: seed ${SEED}`);

const secretsOf = (e: Awaited<ReturnType<typeof encryptAttachment>>) => ({ key: e.key, digest: e.digest, size: e.size, blobSize: e.blob.length });
const fileArb = fc.uint8Array({ minLength: 1, maxLength: 3000 });

// Every format test runs on both paths: node:crypto (Node) and WebCrypto (what browsers take).
describe.each([["node:crypto", true], ["WebCrypto", false]] as const)("attachment format (%s)", (_path, node) => {
  beforeAll(() => useNodeCrypto(node));
  afterAll(() => useNodeCrypto(true));

  it("RM-71 buckets: at least the size and 541, at most 5% over it (above 541), never shrinking", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_ATTACHMENT_BYTES }), (n) => {
        const b = bucketSize(n);
        expect(b).toBeGreaterThanOrEqual(Math.max(n, MIN_BUCKET_BYTES));
        if (n > MIN_BUCKET_BYTES) expect(b).toBeLessThanOrEqual(Math.ceil(n * 1.05));
        expect(bucketSize(b)).toBe(b); // a bucket is its own bucket: sizes fall into classes
        expect(bucketSize(Math.min(n + 1, MAX_ATTACHMENT_BYTES))).toBeGreaterThanOrEqual(b);
      }),
      params(2000),
    );
    // Signal's values: everything up to 541 bytes looks alike.
    expect(bucketSize(1)).toBe(541);
    expect(bucketSize(541)).toBe(541);
    expect(bucketSize(542)).toBe(568);
    expect(blobSizeFor(bucketSize(MAX_ATTACHMENT_BYTES))).toBe(MAX_BLOB_BYTES);
  });

  it("RM-71 RM-72 round trip: the blob is bucket-sized and opens to the file", async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, async (file) => {
        const e = await encryptAttachment(file);
        expect(e.blob.length).toBe(blobSizeFor(bucketSize(file.length)));
        expect(await decryptAttachment(e.blob, secretsOf(e))).toEqual(file);
      }),
      params(60),
    );
  });

  it("RM-71 RM-72 an encryption in progress hands out final blob bytes from the front, equal to the finished blob", async () => {
    const key = crypto.getRandomValues(new Uint8Array(64));
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const file = crypto.getRandomValues(new Uint8Array(60_000));
    const whole = await encryptAttachment(file, key, iv);
    const sealer = startAttachmentEncryption(file, key, iv);
    expect(sealer.blobSize).toBe(whole.blob.length);
    const pieces: Uint8Array[] = [];
    for (let o = 0; o < sealer.blobSize; o += 7001) {
      const piece = await sealer.bytes(o, o + 7001);
      expect(sealer.sealed).toBeGreaterThanOrEqual(o + piece.length);
      pieces.push(piece.slice());
    }
    const done = await sealer.finish();
    expect(Buffer.concat(pieces).equals(Buffer.from(whole.blob))).toBe(true);
    expect(done.digest).toEqual(whole.digest);
    expect(await decryptAttachment(done.blob, secretsOf(done))).toEqual(file);
  });

  it("RM-72 a blob received in pieces opens to the file; a flipped bit, a lying digest, a short or long blob are refused", async () => {
    const codeOf = (p: Promise<unknown>) => p.then(() => "opened", (x: unknown) => (isProtocolError(x) ? x.code : "other"));
    const receive = (blob: Uint8Array, secrets: ReturnType<typeof secretsOf>, step: number) => {
      const r = receiveAttachment(secrets);
      for (let o = 0; o < blob.length; o += step) r.append(blob.subarray(o, o + step));
      return r;
    };
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 5000 }), fc.integer({ min: 1, max: 2000 }), fc.nat(), async (file, step, at) => {
        const e = await encryptAttachment(file);
        expect(await receive(e.blob, secretsOf(e), step).open()).toEqual(file);
        const bad = e.blob.slice();
        bad[at % bad.length]! ^= 0x10;
        expect(await codeOf(receive(bad, secretsOf(e), step).open())).toBe("attachment_digest_mismatch");
        // The pointer's digest matches the tampered blob (a lying sender or relay): the MAC refuses it.
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bad));
        expect(await codeOf(receive(bad, { ...secretsOf(e), digest }, step).open())).toBe("bad_mac");
        const short = receiveAttachment(secretsOf(e));
        short.append(e.blob.subarray(0, e.blob.length - 1));
        expect(await codeOf(short.open())).toBe("attachment_truncated");
        expect(() => short.append(new Uint8Array(2))).toThrow(expect.objectContaining({ code: "attachment_truncated" }));
      }),
      params(30),
    );
  });

  it("RM-72 any flipped bit in the blob is refused with a ProtocolError (digest first)", async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, fc.nat(), fc.integer({ min: 0, max: 7 }), async (file, at, bit) => {
        const e = await encryptAttachment(file);
        const bad = e.blob.slice();
        const i = at % bad.length;
        bad[i]! ^= 1 << bit;
        const err = await decryptAttachment(bad, secretsOf(e)).then(() => undefined, (x: unknown) => x);
        expect(isProtocolError(err, "attachment_digest_mismatch")).toBe(true);
      }),
      params(60),
    );
  });

  it("RM-72 a flipped bit that also fixes the digest (a lying pointer) still fails the MAC", async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, fc.nat(), async (file, at) => {
        const e = await encryptAttachment(file);
        const bad = e.blob.slice();
        bad[at % bad.length]! ^= 0x80;
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bad));
        const err = await decryptAttachment(bad, { ...secretsOf(e), digest }).then(() => undefined, (x: unknown) => x);
        expect(isProtocolError(err, "bad_mac")).toBe(true);
      }),
      params(40),
    );
  });

  it("RM-72 truncated, extended, substituted and replayed blobs are refused before decryption", async () => {
    const a = await encryptAttachment(new TextEncoder().encode("the real file"));
    const b = await encryptAttachment(new TextEncoder().encode("another message's file"));
    const codeOf = (p: Promise<unknown>) => p.then(() => "opened", (x: unknown) => (isProtocolError(x) ? x.code : "other"));
    expect(await codeOf(decryptAttachment(a.blob.subarray(0, a.blob.length - 1), secretsOf(a)))).toBe("attachment_truncated");
    expect(await codeOf(decryptAttachment(new Uint8Array([...a.blob, 0]), secretsOf(a)))).toBe("attachment_truncated");
    // Another message's blob of the same bucket, validly encrypted under its own key.
    expect(b.blob.length).toBe(a.blob.length);
    expect(await codeOf(decryptAttachment(b.blob, secretsOf(a)))).toBe("attachment_digest_mismatch");
    // Random bytes of the right length.
    expect(await codeOf(decryptAttachment(crypto.getRandomValues(new Uint8Array(a.blob.length)), secretsOf(a)))).toBe("attachment_digest_mismatch");
    // A sender that lies about the real size (padding would be shown): refused.
    expect(await codeOf(decryptAttachment(a.blob, { ...secretsOf(a), size: a.size - 1 }))).toBe("attachment_bad_padding");
    expect(await codeOf(decryptAttachment(a.blob, { ...secretsOf(a), size: 10_000 }))).toBe("attachment_bad_padding");
  });

  it("RM-73 pointer checks accept what the sender builds and refuse each malformed field", async () => {
    const e = await encryptAttachment(new Uint8Array(1000).fill(1));
    const good = { blobId: new Uint8Array(32), key: e.key, digest: e.digest, size: 1000n, blobSize: BigInt(e.blob.length), fileName: "a.bin", contentType: "application/octet-stream" };
    expect(isValidPointer(create(AttachmentPointerSchema, good))).toBe(true);
    const bad = [
      { blobId: new Uint8Array(16) },
      { key: new Uint8Array(32) },
      { digest: new Uint8Array(31) },
      { size: 0n },
      { size: BigInt(MAX_ATTACHMENT_BYTES + 1) },
      { blobSize: BigInt(blobSizeFor(1000) - 16) },
      { blobSize: BigInt(e.blob.length + 1) },
      { blobSize: BigInt(MAX_BLOB_BYTES + 16) },
      { fileName: "x".repeat(256) },
      { contentType: "t".repeat(128) },
      { thumbnail: new Uint8Array(MAX_THUMBNAIL_BYTES + 1), thumbnailContentType: "image/jpeg" },
      { thumbnail: new Uint8Array(10), thumbnailContentType: "text/html" },
    ];
    for (const b of bad) expect(isValidPointer(create(AttachmentPointerSchema, { ...good, ...b })), JSON.stringify(Object.keys(b))).toBe(false);
  });

  it("RM-75 safe file names never leave the directory, whatever the sender wrote", () => {
    expect(safeFileName("../../etc/passwd")).toBe("passwd");
    expect(safeFileName("..")).toBe("__");
    expect(safeFileName("/")).toBe("attachment");
    expect(safeFileName(".bashrc")).toBe("_bashrc");
    expect(safeFileName("C:\\Windows\\evil.exe")).toBe("evil.exe");
    expect(safeFileName("photo 1.jpg")).toBe("photo 1.jpg");
    expect(safeFileName("")).toBe("attachment");
    expect(safeFileName("a\u0000b\nc.txt")).toBe("a_b_c.txt");
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (name) => {
        const s = safeFileName(name);
        expect(s.length).toBeGreaterThan(0);
        expect(s).not.toMatch(/[/\\\u0000-\u001f]/);
        expect(s.startsWith(".")).toBe(false);
        expect(new TextEncoder().encode(s).length).toBeLessThanOrEqual(128);
      }),
      params(2000),
    );
  });
});

describe("attachment format: the node:crypto and WebCrypto paths agree", () => {
  afterAll(() => useNodeCrypto(true));
  const sealBoth = async (file: Uint8Array, key: Uint8Array, iv: Uint8Array) => {
    useNodeCrypto(true);
    const viaNode = await encryptAttachment(file, key, iv);
    useNodeCrypto(false);
    const viaWeb = await encryptAttachment(file, key, iv);
    useNodeCrypto(true);
    return { viaNode, viaWeb };
  };

  it("RM-71 RM-72 same blob and digest, each opens the other's, across step and padding boundaries", async () => {
    const key = crypto.getRandomValues(new Uint8Array(64));
    const iv = crypto.getRandomValues(new Uint8Array(16));
    // Sizes around the Node path's 256 KiB steps, and one whose padding spans several steps.
    for (const n of [1, 541, 542, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 17, 5_000_001]) {
      const file = crypto.getRandomValues(new Uint8Array(Math.min(n, 65536)));
      const big = new Uint8Array(n);
      for (let o = 0; o < n; o += file.length) big.set(file.subarray(0, Math.min(file.length, n - o)), o);
      const { viaNode, viaWeb } = await sealBoth(big, key, iv);
      // (Buffer.equals: vitest's deep equality takes minutes on megabytes.)
      const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
      expect(same(viaNode.blob, viaWeb.blob), `blob of ${n}`).toBe(true);
      expect(same(viaNode.digest, viaWeb.digest)).toBe(true);
      useNodeCrypto(false);
      expect(same(await decryptAttachment(viaNode.blob, secretsOf(viaNode)), big), `WebCrypto opens node's ${n}`).toBe(true);
      useNodeCrypto(true);
      expect(same(await decryptAttachment(viaWeb.blob, secretsOf(viaWeb)), big), `node opens WebCrypto's ${n}`).toBe(true);
    }
  });

  it("RM-72 both paths refuse a validly MACed blob whose padding is not PKCS#7 or not zero", async () => {
    // A blob built by hand under the file key: right digest and MAC, bad contents.
    const { createCipheriv, createHash, createHmac } = await import("node:crypto");
    const key = crypto.getRandomValues(new Uint8Array(64));
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const seal = (padded: Uint8Array, pkcs7: boolean): Uint8Array => {
      const c = createCipheriv("aes-256-cbc", key.subarray(0, 32), iv);
      c.setAutoPadding(pkcs7);
      const body = Buffer.concat([iv, c.update(padded), c.final()]);
      return new Uint8Array(Buffer.concat([body, createHmac("sha256", key.subarray(32)).update(body).digest()]));
    };
    const secrets = (blob: Uint8Array, size: number) => ({ key, digest: new Uint8Array(createHash("sha256").update(blob).digest()), size, blobSize: blob.length });
    const noPkcs7 = seal(new Uint8Array(560), false); // block-aligned, no padding block: last byte 0 is not PKCS#7
    const nonZero = seal(new Uint8Array(560).fill(7, 550), true); // bytes after the real size not zero
    for (const node of [true, false]) {
      useNodeCrypto(node);
      const codeOf = (p: Promise<unknown>) => p.then(() => "opened", (x: unknown) => (isProtocolError(x) ? x.code : "other"));
      expect(await codeOf(decryptAttachment(noPkcs7, secrets(noPkcs7, 541)))).toBe("invalid_ciphertext");
      expect(await codeOf(decryptAttachment(nonZero, secrets(nonZero, 545)))).toBe("attachment_bad_padding");
    }
    useNodeCrypto(true);
  });
});
