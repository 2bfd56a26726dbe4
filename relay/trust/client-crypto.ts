/**
 * Production wiring of {@link RelayCrypto} to `client/server/index.ts`, the only client module
 * the relay imports (DESIGN §2).
 */
import type { RelayCrypto } from "./relay-crypto.js";

/**
 * Loads the RelayCrypto backed by client/server. Rejects if that module is not available.
 */
export async function loadClientCrypto(): Promise<RelayCrypto> {
  // Resolved at run time: client/server is built by another team in parallel.
  const specifier = "../../client/server/index.js";
  const m = (await import(specifier)) as Record<string, unknown>;
  const fn = (name: string): ((...args: never[]) => unknown) => {
    const f = m[name];
    if (typeof f !== "function") throw new Error(`client/server lacks ${name}`);
    return f as (...args: never[]) => unknown;
  };
  const call = fn as unknown as (name: string) => (...args: unknown[]) => unknown;
  return {
    verifyPreKeySignature: async (k, p, s) => Boolean(await call("verifyPreKeySignature")(k, p, s)),
    verifyIdentitySignature: async (k, msg, s) => Boolean(await call("verifyIdentitySignature")(k, msg, s)),
    addressFromIdentityKey: async (k) => (await call("addressFromIdentityKey")(k)) as Uint8Array,
    generateKeyPair: async () => (await call("generateTrustRoot")()) as { publicKey: Uint8Array; privateKey: Uint8Array },
    issueServerCertificate: async (a) =>
      (await call("issueServerCertificate")({ trustRootPrivateKey: a.trustRoot.privateKey, serverPublicKey: a.serverPublicKey, keyId: a.keyId })) as Uint8Array,
    issueSenderCertificate: async (a) => (await call("issueSenderCertificate")(a)) as Uint8Array,
  };
}
