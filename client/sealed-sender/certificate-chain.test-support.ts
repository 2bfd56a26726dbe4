// A trust root, a server certificate under it and a sender-certificate issuer, for the
// sealed-sender tests (spec SS-04, SS-05). Never imported by product code.

import { KeyPair, type PublicKey } from "../crypto/curve.js";
import { createSenderCertificate, createServerCertificate } from "./certificates.js";

/** A fresh root → server chain; `issue` certifies an identity until `expiresAtMs` (default `defaultExpiresAtMs`). */
export function certificateChain(defaultExpiresAtMs: number) {
  const root = KeyPair.generate();
  const server = KeyPair.generate();
  const serverCert = createServerCertificate(root.privateKey, 1, server.publicKey);
  const issue = (identity: PublicKey, expiresAtMs = defaultExpiresAtMs) =>
    createSenderCertificate({ serverCertificate: serverCert, serverPrivateKey: server.privateKey, senderIdentityKey: identity, expiresAtMs });
  return { root, server, serverCert, issue };
}
