/**
 * Production wiring of {@link RelayCrypto} to `client/server/index.ts`, the only client module
 * the relay imports (DESIGN §2).
 */
import {
  addressFromIdentityKey,
  generateKeyPair,
  issueSenderCertificate,
  issueServerCertificate,
  verifyIdentitySignature,
  verifyPreKeySignature,
} from "../../client/server/index.js";
import type { RelayCrypto } from "./relay-crypto.js";

/** The RelayCrypto backed by client/server (XEdDSA, libsignal-compatible certificates). */
export const clientCrypto: RelayCrypto = {
  verifyPreKeySignature: (identityKey, serializedPublicKey, signature) =>
    verifyPreKeySignature(identityKey, serializedPublicKey, signature),
  verifyIdentitySignature: (identityKey, message, signature) => verifyIdentitySignature(identityKey, message, signature),
  addressFromIdentityKey: (identityKey) => addressFromIdentityKey(identityKey),
  generateKeyPair: () => {
    const kp = generateKeyPair();
    return { publicKey: kp.publicKey33, privateKey: kp.privateKey32 };
  },
  issueServerCertificate: ({ trustRoot, serverPublicKey, keyId }) =>
    issueServerCertificate(trustRoot.privateKey, keyId, { publicKey33: serverPublicKey }),
  issueSenderCertificate: (a) =>
    issueSenderCertificate({
      serverCertificate: a.serverCertificate,
      serverPrivateKey: a.serverPrivateKey,
      senderAddress: a.senderAddress,
      senderIdentityKey33: a.senderIdentityKey,
      expiresAtMs: a.expiresAtMs,
    }),
};

/** Returns {@link clientCrypto}; async for callers that load it lazily. */
export async function loadClientCrypto(): Promise<RelayCrypto> {
  return clientCrypto;
}
