// Benchmark (a script, not a test), issue 13: attachment throughput. Against the relay in its
// own process (relay/main.ts, SQLite in a temp dir, its static server on a temp dir), the
// client library uploads files (encrypt, pad, digest, chunked unary UploadBlobChunk calls, each
// durable before its answer) and downloads them (streamed DownloadBlob, digest, MAC, decrypt),
// for 1 MB and 50 MB files. References measured in the same run with the same bytes (the
// padded ciphertext): a plain HTTP GET of them from the same relay's static server, and a plain
// HTTP PUT of them to a plain node:http server in its own process that fsyncs before answering
// (the relay has no plain upload endpoint). Throughput is file megabytes (10^6 bytes) per
// second, the median of the repeats; the aim is at least 0.5× the plain transfer. Loopback
// only, bounded by the repeat count; prints only timings.
//
//   npm run bench:attachments -- [--size quick|full] [--repeats R]

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadAttachment, uploadAttachment } from "../client/attachments/blob-transfer.js";
import { createRelayClients } from "../client/relay/relay-clients.js";
import { bySize, median, numericOption, sizeOption } from "./bench-args.js";
import { registerAccount, startHostedServer } from "./bench-servers.js";
import { forkHelper, waitForLine } from "./ipc.js";
import { type Figure, finishReport } from "./report.js";
import { formatNumber } from "./stats.js";

const size = sizeOption();
const repeats = numericOption("repeats", bySize(size, 1, 3), 20);
const SIZES_MB = bySize(size, [1, 10], [1, 50]);
const MB = 1_000_000;

const dataDir = await mkdtemp(join(tmpdir(), "securecomm-bench-attach-"));
const staticDir = await mkdtemp(join(tmpdir(), "securecomm-bench-static-"));
const uploadDir = await mkdtemp(join(tmpdir(), "securecomm-bench-plain-"));
const relay = await startHostedServer("relay", dataDir, { STATIC_DIR: staticDir, RELAY_MAX_BLOB_UPLOADS_PER_MINUTE: "100000" });
const plainHost = forkHelper("bench/plain-upload-host.ts", [uploadDir]);
const plainUrl = await waitForLine(plainHost.child, /^plain upload listening on (\S+)$/m);

/** Incompressible synthetic bytes (xorshift32): not a real file, and nothing compresses them. */
function syntheticFile(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const figures: Figure[] = [];
try {
  const { headers } = await registerAccount(relay.url);
  // The client library's own transport (fetch, as in browsers); the references use fetch too.
  const { rooms, blobs } = createRelayClients({ baseUrl: relay.url, token: () => undefined });
  const roomId = crypto.getRandomValues(new Uint8Array(16));
  const accessKey = crypto.getRandomValues(new Uint8Array(32));
  const accessKeyHash = new Uint8Array(await crypto.subtle.digest("SHA-256", accessKey));
  await rooms.createRoom({ roomId, accessKeyHash }, { headers });

  for (const mb of SIZES_MB) {
    const file = syntheticFile(mb * MB);
    const up: number[] = [];
    const down: number[] = [];
    const plainUp: number[] = [];
    const plainDown: number[] = [];
    for (let r = 0; r < repeats; r++) {
      let t = performance.now();
      const pointer = await uploadAttachment(blobs, { roomId, accessKey }, { data: file });
      up.push(mb / ((performance.now() - t) / 1000));
      t = performance.now();
      const back = await downloadAttachment(blobs, pointer);
      down.push(mb / ((performance.now() - t) / 1000));
      if (back.length !== file.length || back[back.length - 1] !== file[file.length - 1]) throw new Error("download differs");

      // The same ciphertext bytes over plain HTTP.
      const blob = new Uint8Array(Number(pointer.blobSize));
      let off = 0;
      for await (const p of blobs.downloadBlob({ blobId: pointer.blobId, offset: 0n })) {
        blob.set(p.data, off);
        off += p.data.length;
      }
      await writeFile(join(staticDir, "blob.bin"), blob);
      t = performance.now();
      const put = await fetch(`${plainUrl}/upload`, { method: "PUT", body: blob });
      if (put.status !== 204) throw new Error("plain upload failed");
      plainUp.push(mb / ((performance.now() - t) / 1000));
      t = performance.now();
      const got = await fetch(`${relay.url}/blob.bin`);
      const bytes = new Uint8Array(await got.arrayBuffer());
      plainDown.push(mb / ((performance.now() - t) / 1000));
      if (bytes.length !== blob.length) throw new Error("plain download differs");
      console.log(`${mb} MB repeat ${r + 1}: upload ${formatNumber(up.at(-1)!)} MB/s (plain ${formatNumber(plainUp.at(-1)!)}), download ${formatNumber(down.at(-1)!)} MB/s (plain ${formatNumber(plainDown.at(-1)!)})`);
    }
    const note = `median of ${repeats}`;
    const u = median(up);
    const d = median(down);
    const pu = median(plainUp);
    const pd = median(plainDown);
    figures.push(
      { name: `upload ${mb} MB (encrypt + chunked upload)`, value: u, unit: "MB/s", note, reference: { label: "plain HTTP PUT (fsync)", value: pu, unit: "MB/s" } },
      { name: `upload ${mb} MB vs plain HTTP`, value: u / pu, unit: "×", note: "aim ≥ 0.5×" },
      { name: `download ${mb} MB (stream + verify + decrypt)`, value: d, unit: "MB/s", note, reference: { label: "plain HTTP GET, relay static server", value: pd, unit: "MB/s" } },
      { name: `download ${mb} MB vs plain HTTP`, value: d / pd, unit: "×", note: "aim ≥ 0.5×" },
    );
  }
} finally {
  await plainHost.stop();
  await relay.host.stop();
  await Promise.all([dataDir, staticDir, uploadDir].map((d) => rm(d, { recursive: true, force: true })));
}

finishReport({
  benchmark: "attachments",
  setup: `encrypted attachment upload and download through the relay (SQLite, own process) for ${SIZES_MB.join(" and ")} MB files, ${repeats} repeat(s), against plain HTTP transfers of the same bytes in the same run`,
  figures,
  series: [],
});
