/**
 * scrypt (RFC 7914) for key derivation from passphrases: Node's native implementation when
 * running under Node (the CLI: several times faster, and it runs off the main thread), noble's
 * pure-JavaScript one elsewhere (browsers). Both compute the same function; the test pins that.
 *
 * Owns: choosing the implementation. Does not own: parameters or what the key is for
 * (client/file-store/header.ts).
 */

import { scryptAsync } from "@noble/hashes/scrypt.js";

/** scrypt cost and output parameters (RFC 7914 names). */
export interface ScryptOptions {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly dkLen: number;
  /** Most memory the derivation may use, in bytes. */
  readonly maxmem: number;
}

type NodeScrypt = (
  password: Uint8Array,
  salt: Uint8Array,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
  callback: (error: Error | null, key: Uint8Array) => void,
) => void;

let nodeScrypt: Promise<NodeScrypt | undefined> | undefined;

/** Node's `crypto.scrypt`, or undefined outside Node. */
function loadNodeScrypt(): Promise<NodeScrypt | undefined> {
  const isNode = typeof process !== "undefined" && typeof process.versions?.node === "string";
  if (!isNode) return Promise.resolve(undefined);
  // A computed specifier, so bundlers for the browser leave this import alone.
  const specifier = ["node", "crypto"].join(":");
  return (import(/* @vite-ignore */ specifier) as Promise<{ scrypt: NodeScrypt }>).then(
    (m) => m.scrypt,
    () => undefined,
  );
}

/** scrypt(password, salt) with `options`, by the fastest implementation available. */
export async function scryptKey(password: Uint8Array, salt: Uint8Array, options: ScryptOptions): Promise<Uint8Array> {
  const native = await (nodeScrypt ??= loadNodeScrypt());
  if (native === undefined) return scryptAsync(password, salt, options);
  return new Promise((resolve, reject) =>
    native(password, salt, options.dkLen, { N: options.N, r: options.r, p: options.p, maxmem: options.maxmem }, (error, key) =>
      error === null ? resolve(new Uint8Array(key)) : reject(error),
    ),
  );
}
