/**
 * The relay's trust root and server certificate: generated on first start, persisted in the
 * data directory (mode 0600) and reused afterwards (spec/08-sealed-sender.md SS-05).
 *
 * Owns: the file `<dataDir>/trust-root.json` and its format. Does not own the signature
 * scheme (RelayCrypto does).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, chmodSync } from "node:fs";
import { join } from "node:path";
import type { RelayCrypto, RelayKeyPair } from "./relay-crypto.js";

/** File name of the persisted trust material inside the data directory. */
export const TRUST_FILE = "trust-root.json";

/** Key id of the server certificate this relay issues; one server key per data directory. */
export const SERVER_CERTIFICATE_KEY_ID = 1;

/** The relay's signing material. Never logged; printing it shows a redacted tag. */
export interface TrustMaterial {
  readonly trustRoot: RelayKeyPair;
  readonly serverKey: RelayKeyPair;
  /** Serialized securecomm.wire.v1.ServerCertificate. */
  readonly serverCertificate: Uint8Array;
}

interface TrustFile {
  version: 1;
  trustRootPublic: string;
  trustRootPrivate: string;
  serverPublic: string;
  serverPrivate: string;
  serverCertificate: string;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
const unb64 = (s: unknown): Uint8Array => {
  if (typeof s !== "string") throw new Error("trust file is malformed");
  return new Uint8Array(Buffer.from(s, "base64"));
};

function redacted(material: Omit<TrustMaterial, never>): TrustMaterial {
  const tag = "[TrustMaterial redacted]";
  Object.defineProperties(material, {
    toString: { value: () => tag },
    toJSON: { value: () => tag },
    [Symbol.for("nodejs.util.inspect.custom")]: { value: () => tag },
  });
  return Object.freeze(material);
}

/**
 * Loads the trust material from `dataDir`, or generates and persists it (mode 0600, written
 * atomically) when the file does not exist yet.
 */
export async function loadOrCreateTrust(dataDir: string, crypto: RelayCrypto): Promise<TrustMaterial> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, TRUST_FILE);
  if (existsSync(path)) {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<TrustFile>;
    if (parsed.version !== 1) throw new Error("trust file has an unknown version");
    return redacted({
      trustRoot: { publicKey: unb64(parsed.trustRootPublic), privateKey: unb64(parsed.trustRootPrivate) },
      serverKey: { publicKey: unb64(parsed.serverPublic), privateKey: unb64(parsed.serverPrivate) },
      serverCertificate: unb64(parsed.serverCertificate),
    });
  }
  const trustRoot = await crypto.generateKeyPair();
  const serverKey = await crypto.generateKeyPair();
  const serverCertificate = await crypto.issueServerCertificate({
    trustRoot,
    serverPublicKey: serverKey.publicKey,
    keyId: SERVER_CERTIFICATE_KEY_ID,
  });
  const file: TrustFile = {
    version: 1,
    trustRootPublic: b64(trustRoot.publicKey),
    trustRootPrivate: b64(trustRoot.privateKey),
    serverPublic: b64(serverKey.publicKey),
    serverPrivate: b64(serverKey.privateKey),
    serverCertificate: b64(serverCertificate),
  };
  const tmp = `${path}.tmp-${process.pid}`;
  // Written to a temporary file, flushed to disk, then renamed: a crash never leaves half a key.
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(file));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  const dirFd = openSync(dataDir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return redacted({ trustRoot, serverKey, serverCertificate });
}
