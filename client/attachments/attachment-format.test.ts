// Properties of the attachment format (spec/09-rooms.md RM-71, RM-72, RM-73): round trip,
// bucket sizes, and refusal of any flipped bit, truncation, substitution or replay with a typed
// ProtocolError before anything is decrypted. Seeds are printed; a failing one becomes a named
// regression test.
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttachmentPointerSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { isProtocolError } from "../errors.js";
import { blobSizeFor, bucketSize, decryptAttachment, encryptAttachment, MAX_ATTACHMENT_BYTES, MAX_BLOB_BYTES, MIN_BUCKET_BYTES } from "./attachment-format.js";
import { isValidPointer, MAX_THUMBNAIL_BYTES, safeFileName } from "./attachment-pointer.js";

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const params = (numRuns: number) => ({ seed: SEED, numRuns });
console.log(`attachment-format properties: seed ${SEED}`);

const secretsOf = (e: Awaited<ReturnType<typeof encryptAttachment>>) => ({ key: e.key, digest: e.digest, size: e.size, blobSize: e.blob.length });
const fileArb = fc.uint8Array({ minLength: 1, maxLength: 3000 });

describe("attachment format", () => {
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
