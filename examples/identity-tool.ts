// A small command-line helper for calling the relay from shells and other languages: it
// holds a throwaway identity key in a file and does the two things that need real
// cryptography, signing the relay's login challenge (XEdDSA) and making signed prekeys
// (X25519 and Kyber1024), with the TypeScript client library. Everything else (the RPCs
// themselves) is left to the caller: buf curl in README.md, gRPC in examples/python/.
//
// Input and output are the relay API's protobuf JSON forms, so they pipe into and out of
// `buf curl`. Run with: node --import tsx examples/identity-tool.ts <command> …
//
//   new FILE              create an identity in FILE (mode 0600); print its public key
//   public-key FILE       print the identity public key (base64, 33 bytes)
//   prove FILE            read a CreateChallengeResponse (JSON) on stdin, print a
//                         ProveIdentityRequest (JSON) with the XEdDSA signature
//   token                 read a ProveIdentityResponse (JSON) on stdin, print the bearer
//                         token as used in `authorization: Bearer <token>` (base64url)
//   address               read a ProveIdentityResponse (JSON) on stdin, print the address
//   prekeys FILE [N]      print an UploadPreKeysRequest (JSON): a signed EC prekey, N one-time
//                         EC and N one-time Kyber prekeys (default 5) and a last-resort Kyber key
//
// The identity file holds a private key: it is for examples and tests, not for real use.

import { readFileSync, writeFileSync } from "node:fs";
import { create, toJsonString } from "@bufbuild/protobuf";
import {
  createIdentityKeyPair,
  parseIdentityKeyPair,
  serializeIdentityKeyPair,
  type IdentityKeyPair,
} from "../client/keys/identity.js";
import {
  createKyberPreKey,
  createOneTimePreKeys,
  createSignedPreKey,
  kyberPreKeyUpload,
  preKeyUpload,
  signedPreKeyUpload,
} from "../client/keys/prekeys.js";
import { ProveIdentityRequestSchema } from "../gen/securecomm/relay/v1/account_pb.js";
import { UploadPreKeysRequestSchema } from "../gen/securecomm/relay/v1/keys_pb.js";

/** The label the relay's login signature starts with (account.proto, ProveIdentity). */
export const AUTH_LABEL = new TextEncoder().encode("SecureComm relay auth v1");

/** Most prekeys of each kind this tool makes at once (the relay's per-upload cap is 100). */
export const MAX_PREKEYS = 100;

/** Identity file format: the storage.v1 IdentityKeyPairRecord bytes, base64, in JSON. */
interface IdentityFile {
  readonly identity: string;
}

const fail = (message: string): never => {
  process.stderr.write(`identity-tool: ${message}\n`);
  process.exit(2);
};

function loadIdentity(file: string | undefined): IdentityKeyPair {
  if (!file) return fail("missing identity FILE");
  let parsed: IdentityFile;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as IdentityFile;
  } catch {
    return fail("cannot read the identity file");
  }
  return parseIdentityKeyPair(Buffer.from(parsed.identity, "base64"));
}

function readStdinJson(): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(0, "utf8");
  } catch {
    return fail("cannot read standard input");
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return fail("standard input is not JSON");
  }
}

function bytesField(json: Record<string, unknown>, name: string): Uint8Array {
  const value = json[name];
  if (typeof value !== "string") return fail(`input has no ${name}`);
  return new Uint8Array(Buffer.from(value, "base64"));
}

/** Concatenates byte arrays. */
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function main(argv: readonly string[]): void {
  const [command, file, extra] = argv;
  switch (command) {
    case "new": {
      if (!file) fail("missing identity FILE");
      const identity = createIdentityKeyPair();
      const body: IdentityFile = { identity: Buffer.from(serializeIdentityKeyPair(identity)).toString("base64") };
      writeFileSync(file as string, JSON.stringify(body) + "\n", { mode: 0o600 });
      process.stdout.write(Buffer.from(identity.publicKey.serialize()).toString("base64") + "\n");
      return;
    }
    case "public-key": {
      const identity = loadIdentity(file);
      process.stdout.write(Buffer.from(identity.publicKey.serialize()).toString("base64") + "\n");
      return;
    }
    case "prove": {
      const identity = loadIdentity(file);
      const challenge = bytesField(readStdinJson(), "challenge");
      const identityKey = identity.publicKey.serialize();
      const signature = identity.privateKey.sign(concat(AUTH_LABEL, challenge, identityKey));
      const request = create(ProveIdentityRequestSchema, {
        identityKey,
        challenge,
        signature,
        registrationId: identity.registrationId,
      });
      process.stdout.write(toJsonString(ProveIdentityRequestSchema, request) + "\n");
      return;
    }
    case "token": {
      process.stdout.write(Buffer.from(bytesField(readStdinJson(), "token")).toString("base64url") + "\n");
      return;
    }
    case "address": {
      process.stdout.write(Buffer.from(bytesField(readStdinJson(), "address")).toString("base64") + "\n");
      return;
    }
    case "prekeys": {
      const identity = loadIdentity(file);
      const count = extra === undefined ? 5 : Number(extra);
      if (!Number.isInteger(count) || count < 0 || count > MAX_PREKEYS) fail(`N must be 0..${MAX_PREKEYS}`);
      const now = Date.now();
      const request = create(UploadPreKeysRequestSchema, {
        signedPreKey: signedPreKeyUpload(createSignedPreKey(identity, 1, now)),
        oneTimePreKeys: createOneTimePreKeys(1, count).map(preKeyUpload),
        kyberPreKeys: Array.from({ length: count }, (_, i) => kyberPreKeyUpload(createKyberPreKey(identity, i + 1, now))),
        lastResortKyberPreKey: kyberPreKeyUpload(createKyberPreKey(identity, 10_000, now, { lastResort: true })),
      });
      process.stdout.write(toJsonString(UploadPreKeysRequestSchema, request) + "\n");
      return;
    }
    default:
      fail("usage: identity-tool new|public-key|prove|token|address|prekeys … (see the header of examples/identity-tool.ts)");
  }
}

main(process.argv.slice(2));
