/**
 * The relay's trust root and server certificate: generated on first start, persisted through
 * the store (a file in the SQLite data directory, a row in PostgreSQL) and reused afterwards
 * by every relay process on that store (spec/08-sealed-sender.md SS-05).
 *
 * Owns: the serialized format and generation. Does not own where the bytes live (the store)
 * or the signature scheme (RelayCrypto does).
 */
import type { RelayStore } from "../store/relay-store.js";
import type { RelayCrypto, RelayKeyPair } from "./relay-crypto.js";

/** Key id of the server certificate this relay issues; one server key per store. */
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

/** Parses stored trust material (the JSON of {@link TrustFile}, version 1). */
export function parseTrustMaterial(bytes: Uint8Array): TrustMaterial {
  const parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as Partial<TrustFile>;
  if (parsed.version !== 1) throw new Error("trust file has an unknown version");
  return redacted({
    trustRoot: { publicKey: unb64(parsed.trustRootPublic), privateKey: unb64(parsed.trustRootPrivate) },
    serverKey: { publicKey: unb64(parsed.serverPublic), privateKey: unb64(parsed.serverPrivate) },
    serverCertificate: unb64(parsed.serverCertificate),
  });
}

/**
 * Loads the trust material from the store, or generates it and claims it there. When several
 * relay processes start at once on one database, every one ends with the material the first
 * claim stored, so all issue sender certificates chaining to one trust root.
 */
export async function loadOrCreateTrust(store: Pick<RelayStore, "loadTrustMaterial" | "claimTrustMaterial">, crypto: RelayCrypto): Promise<TrustMaterial> {
  const existing = await store.loadTrustMaterial();
  if (existing) return parseTrustMaterial(existing);
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
  return parseTrustMaterial(await store.claimTrustMaterial(new Uint8Array(Buffer.from(JSON.stringify(file), "utf8"))));
}
