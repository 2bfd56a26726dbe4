// Benchmark (a script, not a test): primitive costs of client/crypto, WebCrypto fast paths
// against the portable noble paths in the same run, plus libsignal's native primitives as a
// reference (SIGNAL-FACTS "Reference throughput"):
//   - X25519 agreement (native WebCrypto vs noble vs libsignal);
//   - key generation and private-key import (noble derivation vs WebCrypto generation; PKCS#8
//     vs JWK-with-public-half import; a parsed key whose public half is remembered);
//   - XEdDSA verification (native Ed25519 vs noble point arithmetic vs libsignal);
//   - XEdDSA signing, sender-key style (noble; libsignal for reference);
//   - Kyber1024 encapsulation and decapsulation (noble ML-KEM based);
//   - sender-key group encrypt + decrypt and sealed-sender seal + open of 256 bytes.
// Owns: the measurement loops and the printed table. Prints rates only: no keys, no plaintext.
//
//   node --import tsx bench/crypto-primitives.ts [--size quick|full] [--count N] [--runs R]
//   npm run bench:crypto -- --count 500

import { performance } from "node:perf_hooks";
import * as libsignal from "@signalapp/libsignal-client";
import { KeyPair, PrivateKey } from "../client/crypto/curve.js";
import { KemKeyPair } from "../client/crypto/kem.js";
import {
  importX25519PrivateJwk,
  importX25519PrivateNative,
  x25519AgreeNative,
  x25519AgreeNoble,
} from "../client/crypto/x25519.js";
import { hasNativeEd25519, xeddsaVerifyNative, xeddsaVerifyNoble } from "../client/crypto/xeddsa.js";
import {
  createDistributionId,
  createSenderKeyDistributionMessage,
  groupDecrypt,
  groupEncrypt,
  processSenderKeyDistributionMessage,
} from "../client/sender-keys/group-cipher.js";
import { InMemorySenderKeyStore } from "../client/sender-keys/sender-key-store.js";
import { createSenderCertificate, createServerCertificate } from "../client/sealed-sender/certificates.js";
import { sealedSenderDecryptToContent, sealedSenderEncrypt } from "../client/sealed-sender/sealed-sender.js";
import { bySize, median, numericOption, sizeOption } from "./bench-args.js";
import { type Figure, finishReport } from "./report.js";

/** Default operations per measurement and run. */
const DEFAULT_COUNT = 1000;
/** Default runs; the median is printed (2 shared cores: single runs are noisy). */
const DEFAULT_RUNS = 3;
const size = sizeOption();
const count = numericOption("count", bySize(size, 200, DEFAULT_COUNT));
const runs = numericOption("runs", bySize(size, 1, DEFAULT_RUNS));
const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

async function rate(n: number, op: (i: number) => unknown): Promise<number> {
  const results: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await op(i);
    results.push((n * 1000) / (performance.now() - start));
  }
  return median(results);
}

const rows: [string, number][] = [];
async function measure(name: string, n: number, op: (i: number) => unknown): Promise<void> {
  rows.push([name, await rate(n, op)]);
}

// Inputs prepared once.
const a = KeyPair.generate();
const b = KeyPair.generate();
const aPrivate = a.privateKey.serialize();
const bU = b.publicKey.publicBytes;
const nativeKey = await importX25519PrivateNative(aPrivate);
const la = libsignal.PrivateKey.deserialize(ab(aPrivate));
const lb = libsignal.PublicKey.deserialize(ab(b.publicKey.serialize()));
const message = new Uint8Array(100).fill(1);
const signature = a.privateKey.sign(message);
const aU = a.publicKey.publicBytes;
const edKeys = new Map<number, Promise<CryptoKey>>();
const la2 = libsignal.PublicKey.deserialize(ab(a.publicKey.serialize()));
const kem = KemKeyPair.generate();
const kemCiphertext = kem.publicKey.encapsulate().ciphertext;

await measure("X25519 agree, WebCrypto", count, () => x25519AgreeNative(nativeKey, bU));
await measure("X25519 agree, noble", Math.ceil(count / 10), () => x25519AgreeNoble(aPrivate, bU));
await measure("X25519 agree, libsignal", count, () => la.agree(lb));
await measure("PrivateKey.agree (auto path)", count, () => a.privateKey.agree(b.publicKey));
await measure("KeyPair.generate (noble derivation)", Math.ceil(count / 5), () => KeyPair.generate());
await measure("KeyPair.generateAsync (WebCrypto)", count, () => KeyPair.generateAsync());
await measure("X25519 private import, PKCS#8", Math.ceil(count / 5), () => importX25519PrivateNative(aPrivate));
await measure("X25519 private import, JWK with public", count, () => importX25519PrivateJwk(aPrivate, aU));
await measure("PrivateKey parse + getPublicKey", count, () => PrivateKey.deserialize(aPrivate).getPublicKey());
if (!(await hasNativeEd25519())) console.log("note: no native Ed25519 here; the WebCrypto rows fall back to failure");
await measure("XEdDSA verify, WebCrypto Ed25519", count, () => xeddsaVerifyNative(aU, message, signature, edKeys));
await measure("XEdDSA verify, noble", Math.ceil(count / 10), () => xeddsaVerifyNoble(aU, message, signature));
await measure("XEdDSA verify, libsignal", count, () => la2.verify(ab(message), ab(signature)));
await measure("XEdDSA sign, ours (noble)", Math.ceil(count / 5), () => a.privateKey.sign(message));
await measure("XEdDSA sign, libsignal", count, () => la.sign(ab(message)));
await measure("Kyber1024 encapsulate", Math.ceil(count / 5), () => kem.publicKey.encapsulate());
await measure("Kyber1024 decapsulate", Math.ceil(count / 5), () => kem.secretKey.decapsulate(kemCiphertext));

// Sender keys: encrypt + decrypt of 256 bytes through in-memory stores.
{
  const senderStore = new InMemorySenderKeyStore();
  const receiverStore = new InMemorySenderKeyStore();
  const distributionId = createDistributionId();
  await processSenderKeyDistributionMessage(receiverStore, "s", await createSenderKeyDistributionMessage(senderStore, "s", distributionId));
  const plaintext = new Uint8Array(256);
  await measure("sender key encrypt+decrypt (256 B)", Math.ceil(count / 5), async () =>
    groupDecrypt(receiverStore, "s", await groupEncrypt(senderStore, "s", distributionId, plaintext)),
  );
}

// Sealed sender: seal + open (certificate validation included) of a 256-byte inner message.
{
  const root = KeyPair.generate();
  const server = KeyPair.generate();
  const cert = createSenderCertificate({
    serverCertificate: createServerCertificate(root.privateKey, 1, server.publicKey),
    serverPrivateKey: server.privateKey,
    senderIdentityKey: a.publicKey,
    expiresAtMs: Date.now() + 86_400_000,
  });
  const inner = { type: "message" as const, content: new Uint8Array(256) };
  const now = Date.now();
  await measure("sealed sender seal+open (256 B)", Math.ceil(count / 5), async () =>
    sealedSenderDecryptToContent(await sealedSenderEncrypt(b.publicKey, cert, inner, a), b, root.publicKey, now),
  );
}

const width = Math.max(...rows.map(([n]) => n.length));
console.log(`client/crypto primitives (median of ${runs} runs; ops/s)`);
for (const [name, r] of rows) console.log(`${name.padEnd(width)}  ${Math.round(r).toLocaleString("en-US").padStart(9)}`);

/** Each of our rows beside libsignal's row for the same operation, measured in this run. */
const LIBSIGNAL_ROW: Record<string, string> = {
  "X25519 agree, WebCrypto": "X25519 agree, libsignal",
  "X25519 agree, noble": "X25519 agree, libsignal",
  "PrivateKey.agree (auto path)": "X25519 agree, libsignal",
  "XEdDSA verify, WebCrypto Ed25519": "XEdDSA verify, libsignal",
  "XEdDSA verify, noble": "XEdDSA verify, libsignal",
  "XEdDSA sign, ours (noble)": "XEdDSA sign, libsignal",
};
const byName = new Map(rows);
const figures: Figure[] = rows
  .filter(([name]) => !name.endsWith(", libsignal"))
  .map(([name, r]) => {
    const ref = LIBSIGNAL_ROW[name];
    return {
      name,
      value: r,
      unit: "ops/s",
      ...(ref === undefined ? {} : { reference: { label: "libsignal", value: byName.get(ref) ?? null, unit: "ops/s" } }),
    };
  });
finishReport({
  benchmark: "crypto primitives",
  setup: `client/crypto primitives, ${count} operations per measurement (slow paths fewer), median of ${runs} run(s), libsignal-client's native primitives in the same process as reference; goals for these live in bench:protocol's workloads`,
  figures,
  series: [],
});
