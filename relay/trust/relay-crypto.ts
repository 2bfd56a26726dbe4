/**
 * The cryptographic operations the relay needs, as one interface.
 *
 * Owns: the shape of the dependency on `client/server/index.ts` (the only client module the
 * relay imports, DESIGN §2). The services receive a {@link RelayCrypto}; production wiring
 * uses client/server, tests may inject an implementation backed by the test oracle.
 */

/** A key pair as raw bytes: 33-byte public key (0x05 ‖ u), 32-byte private key. */
export interface RelayKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** What the relay asks of the cryptographic layer (spec/08-sealed-sender.md, spec/10-relay-api.md). */
export interface RelayCrypto {
  /** XEdDSA verification of a prekey signature over the serialized public key as received. */
  verifyPreKeySignature(identityKey: Uint8Array, serializedPublicKey: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** XEdDSA verification of an identity-key signature over `message`. */
  verifyIdentitySignature(identityKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** The 16-byte account address of an identity key (spec ID-03). */
  addressFromIdentityKey(identityKey: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** A fresh Curve25519 key pair (trust root or server key). */
  generateKeyPair(): Promise<RelayKeyPair> | RelayKeyPair;
  /** A serialized ServerCertificate for `serverPublicKey`, signed by the trust root. */
  issueServerCertificate(args: { trustRoot: RelayKeyPair; serverPublicKey: Uint8Array; keyId: number }): Promise<Uint8Array> | Uint8Array;
  /** A serialized SenderCertificate signed by the server key. */
  issueSenderCertificate(args: {
    serverCertificate: Uint8Array;
    serverPrivateKey: Uint8Array;
    senderAddress: Uint8Array;
    senderIdentityKey: Uint8Array;
    expiresAtMs: number;
  }): Promise<Uint8Array> | Uint8Array;
}
