/**
 * Attachments end to end (spec/09-rooms.md RM-70..RM-76, spec/10-relay-api.md API-60..API-64):
 * real clients, a real relay over HTTP on loopback with real SQLite files. The relay is made
 * hostile by wrapping its blob store (it serves another message's blob, truncates, extends or
 * flips a bit), and the network drops upload answers and download streams; receivers refuse
 * every altered blob with a typed ProtocolError and get nothing of it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import type { BlobChunk, BlobStore } from "../../relay/store/blob-store.js";
import { isProtocolError } from "../errors.js";
import { newClient, type TestClient, waitFor, waitForRoster } from "./harness.test-support.js";

type Tamper = "none" | "swap" | "truncate" | "extend" | "flip";
const hostile = { mode: "none" as Tamper, swapWith: undefined as Uint8Array | undefined };

/** The relay's real blob store, with reads tampered as `hostile.mode` says (a lying relay). */
function tampering(inner: BlobStore): BlobStore {
  return {
    ...inner,
    async getBlob(blobId) {
      const b = await inner.getBlob(blobId);
      if (b && hostile.mode === "extend") return { ...b, size: b.size + 1 };
      // The relay claims a shorter blob and ends its stream early, cleanly.
      if (b && hostile.mode === "truncate") return { ...b, size: b.size - 16 };
      return b;
    },
    async readChunks(blobId, from, max): Promise<BlobChunk[]> {
      if (hostile.mode === "swap" && hostile.swapWith) return inner.readChunks(hostile.swapWith, from, max);
      const chunks = await inner.readChunks(blobId, from, max);
      if (hostile.mode === "flip" && chunks[0] && chunks[0].data.length > 40) {
        const data = chunks[0].data.slice();
        data[40]! ^= 0x01;
        return [{ offset: chunks[0].offset, data }, ...chunks.slice(1)];
      }
      if (hostile.mode === "extend" && chunks.length > 0) {
        const last = chunks[chunks.length - 1]!;
        return [...chunks.slice(0, -1), { offset: last.offset, data: new Uint8Array([...last.data, 0]) }];
      }
      return chunks;
    },
  };
}

/** A network that loses every other UploadBlobChunk answer (after the relay stored the chunk) and cuts download streams after a few pieces. */
class LossyNetwork {
  uploadsSeen = 0;
  answersLost = 0;
  streamsCut = 0;
  active = false;
  fetch(): typeof fetch {
    return async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const res = await fetch(input, init);
      if (!this.active) return res;
      if (url.endsWith("/UploadBlobChunk") && ++this.uploadsSeen % 2 === 0) {
        await res.arrayBuffer(); // the relay handled it
        this.answersLost++;
        throw new TypeError("connection reset");
      }
      if (url.endsWith("/DownloadBlob") && res.body && this.streamsCut < 2) {
        this.streamsCut++;
        const reader = res.body.getReader();
        let read = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(c) {
            const r = await reader.read();
            if (r.done) return c.close();
            read += r.value.length;
            if (read > 150_000) {
              void reader.cancel();
              return c.error(new TypeError("connection reset"));
            }
            c.enqueue(r.value);
          },
        });
        return new Response(body, { status: res.status, headers: res.headers });
      }
      return res;
    };
  }
}

let relay: TestRelay;
const clients: TestClient[] = [];
let alice: TestClient;
let bob: TestClient;
let roomId: string;
const net = new LossyNetwork();

beforeAll(async () => {
  relay = await startTestRelay({ wrapBlobs: tampering });
  alice = await newClient(relay.url, "alice-files", { fetch: net.fetch() });
  bob = await newClient(relay.url, "bob-files", { fetch: net.fetch() });
  clients.push(alice, bob);
  const created = await alice.client.createRoom("files");
  roomId = created.roomId;
  const inviteLink = created.inviteLink;
  await bob.client.joinRoom(inviteLink);
  await waitForRoster([alice, bob], roomId, 2);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.client.close()));
  await relay.close();
}, 60_000);

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
const file = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
const received = (c: TestClient, name: string) => c.messages.find((m) => m.attachments?.some((a) => a.fileName === name));
const codeOf = (p: Promise<unknown>) => p.then(() => "opened", (x: unknown) => (isProtocolError(x) ? x.code : `other: ${String(x)}`));

describe("attachments end to end", () => {
  it("RM-70 RM-72 RM-76: a file and its metadata reach the other member and open byte for byte; the sender sees upload progress", async () => {
    const data = file(300_000, 1);
    const progress: number[] = [];
    await alice.client.sendFiles(roomId, [{ data, fileName: "report.pdf", contentType: "application/pdf" }], {
      text: "here is the report",
      onProgress: (i, done) => progress.push(done),
    });
    await waitFor(() => received(bob, "report.pdf") !== undefined, "bob gets the pointer");
    const m = received(bob, "report.pdf")!;
    expect(m.text).toBe("here is the report");
    const view = m.attachments![0]!;
    expect(view).toMatchObject({ fileName: "report.pdf", contentType: "application/pdf", size: 300_000, voiceNote: false });
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBeGreaterThanOrEqual(300_000);
    const dl: number[] = [];
    expect(sameBytes(await bob.client.downloadAttachment(view, { onProgress: (d) => dl.push(d) }), data)).toBe(true);
    const { parsePointer } = await import("../attachments/attachment-pointer.js");
    expect(dl.at(-1)).toBe(Number(parsePointer(view.pointer).blobSize));
    // The sender's own message carries the same pointer.
    expect(alice.messages.find((x) => x.own && x.attachments?.[0]?.fileName === "report.pdf")).toBeDefined();
  });

  it("RM-74: an image carries its dimensions and thumbnail, a voice note its duration and flag, inside the encrypted message", async () => {
    const thumb = file(2_000, 9);
    await alice.client.sendFiles(roomId, [
      { data: file(5_000, 2), fileName: "cat.png", contentType: "image/png", width: 640, height: 480, thumbnail: thumb, thumbnailContentType: "image/jpeg" },
      { data: file(7_000, 3), fileName: "voice.webm", contentType: "audio/webm", durationMs: 2_500, voiceNote: true },
    ]);
    await waitFor(() => received(bob, "voice.webm") !== undefined, "bob gets the image and the voice note");
    const [img, voice] = received(bob, "cat.png")!.attachments!;
    expect(img).toMatchObject({ width: 640, height: 480, thumbnailType: "image/jpeg" });
    expect(img!.thumbnail).toEqual(thumb);
    expect(voice).toMatchObject({ voiceNote: true, durationMs: 2_500, contentType: "audio/webm" });
    expect(await bob.client.downloadAttachment(voice!)).toEqual(file(7_000, 3));
  });

  it("API-63 API-64: an upload whose answers are lost resumes from the relay's offset; a download whose stream breaks resumes from its bytes", async () => {
    const data = file(5_000_000, 4); // three 2 MiB upload chunks
    net.active = true;
    try {
      await alice.client.sendFiles(roomId, [{ data, fileName: "big.bin" }]);
      await waitFor(() => received(bob, "big.bin") !== undefined, "bob gets the big file");
      // Compared by hash: a deep equality of megabytes is slow and its diff unreadable.
      expect(sameBytes(await bob.client.downloadAttachment(received(bob, "big.bin")!.attachments![0]!), data)).toBe(true);
    } finally {
      net.active = false;
    }
    expect(net.answersLost).toBeGreaterThan(0);
    expect(net.streamsCut).toBeGreaterThan(0);
  });

  it("RM-72: a relay that serves another message's blob, truncates, extends or flips a bit is refused with a ProtocolError and nothing is shown", async () => {
    const real = file(3_000, 5);
    const other = file(3_000, 6); // same size class: only the digest tells them apart
    await alice.client.sendFiles(roomId, [{ data: real, fileName: "real.txt" }]);
    await alice.client.sendFiles(roomId, [{ data: other, fileName: "other.txt" }]);
    await waitFor(() => received(bob, "other.txt") !== undefined, "bob gets both");
    const target = received(bob, "real.txt")!.attachments![0]!;
    const replayed = received(bob, "other.txt")!.attachments![0]!;
    const { parsePointer } = await import("../attachments/attachment-pointer.js");
    hostile.swapWith = parsePointer(replayed.pointer).blobId;
    const cases: Array<[Tamper, string]> = [
      ["swap", "attachment_digest_mismatch"],
      ["flip", "attachment_digest_mismatch"],
      ["truncate", "attachment_truncated"],
      ["extend", "attachment_truncated"],
    ];
    try {
      for (const [mode, code] of cases) {
        hostile.mode = mode;
        expect(await codeOf(bob.client.downloadAttachment(target)), mode).toBe(code);
      }
    } finally {
      hostile.mode = "none";
    }
    expect(await bob.client.downloadAttachment(target)).toEqual(real);
  });

  it("RM-73: a pointer naming no blob, or a malformed kept pointer, is a typed error", async () => {
    const view = received(bob, "real.txt")!.attachments![0]!;
    const { parsePointer } = await import("../attachments/attachment-pointer.js");
    const p = parsePointer(view.pointer);
    p.blobId = crypto.getRandomValues(new Uint8Array(32));
    const { toBinary } = await import("@bufbuild/protobuf");
    const { AttachmentPointerSchema } = await import("../../gen/securecomm/wire/v1/content_pb.js");
    expect(await codeOf(bob.client.downloadAttachment(toBinary(AttachmentPointerSchema, p)))).toBe("attachment_unavailable");
    expect(await codeOf(bob.client.downloadAttachment(new Uint8Array([1, 2, 3])))).toBe("attachment_invalid_pointer");
  });
});
