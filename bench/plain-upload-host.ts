// The plain HTTP reference for bench/attachments.ts, in its own process as the relay is: a
// node:http server on 127.0.0.1 that takes `PUT /upload` bodies, writes each to a file in the
// directory given as its argument and fsyncs it before answering 204 (the durability a relay
// chunk has before its answer). Prints one line "plain upload listening on URL". Loopback
// only; stops when its parent disconnects.
import { createServer } from "node:http";
import { open } from "node:fs/promises";
import { join } from "node:path";

const dir = process.argv[2];
if (dir === undefined) throw new TypeError("usage: plain-upload-host.ts DIR");
let n = 0;
const server = createServer((req, res) => {
  if (req.method !== "PUT" || req.url !== "/upload") {
    res.writeHead(404).end();
    return;
  }
  void (async () => {
    const file = await open(join(dir, `upload-${++n}.bin`), "w");
    try {
      for await (const chunk of req) await file.write(chunk as Buffer);
      await file.sync();
    } finally {
      await file.close();
    }
    res.writeHead(204).end();
  })().catch(() => res.writeHead(500).end());
});
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  const port = typeof a === "object" && a ? a.port : 0;
  process.stdout.write(`plain upload listening on http://127.0.0.1:${port}\n`);
});
process.on("disconnect", () => server.close(() => process.exit(0)));
