/**
 * Test harness for the relay's services: a real relay (real SQLite file in a temp dir, real
 * client/server crypto) behind an in-memory Connect transport, plus helpers that act as
 * clients with real keys signed by the libsignal test oracle. Tests only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, createRouterTransport, type Client, type Transport } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/securecomm/relay/v1/errors_pb.js";
import { KEMKeyPair, PrivateKey } from "@signalapp/libsignal-client";
import { AccountService } from "../../gen/securecomm/relay/v1/account_pb.js";
import { KeyService } from "../../gen/securecomm/relay/v1/keys_pb.js";
import { MessageService } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../../gen/securecomm/relay/v1/relay_info_pb.js";
import { BlobService } from "../../gen/securecomm/relay/v1/blobs_pb.js";
import { RoomService } from "../../gen/securecomm/relay/v1/rooms_pb.js";
import { bearerHeader, sha256 } from "../auth.js";
import { authSignatureMessage } from "./account-service.js";
import { openRelay, type Relay, type RelayOptions } from "./index.js";

/** Copies into a plain ArrayBuffer-backed array (libsignal's types want that). */
export const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** All service clients over one transport. */
export interface Clients {
  account: Client<typeof AccountService>;
  keys: Client<typeof KeyService>;
  messages: Client<typeof MessageService>;
  rooms: Client<typeof RoomService>;
  blobs: Client<typeof BlobService>;
  info: Client<typeof RelayInfoService>;
}

/** Creates every service client on `transport`. */
export function clientsFor(transport: Transport): Clients {
  return {
    account: createClient(AccountService, transport),
    keys: createClient(KeyService, transport),
    messages: createClient(MessageService, transport),
    rooms: createClient(RoomService, transport),
    blobs: createClient(BlobService, transport),
    info: createClient(RelayInfoService, transport),
  };
}

/** A relay under test. */
export interface Harness extends Clients {
  relay: Relay;
  dataDir: string;
  transport: Transport;
  logLines: string[];
  clock: { now: number };
  close(): Promise<void>;
}

/** Opens a relay on a fresh temp dir with an in-memory transport and a controllable clock. */
export async function openHarness(options: Partial<RelayOptions> = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "securecomm-relay-core-"));
  const logLines: string[] = [];
  const clock = { now: 1_800_000_000_000 };
  const relay = await openRelay({
    logLevel: "debug",
    logSink: (line) => logLines.push(line),
    now: () => clock.now,
    ...options,
    dataDir,
  });
  const transport = createRouterTransport((router) => relay.registerServices(router));
  return {
    ...clientsFor(transport),
    relay,
    dataDir,
    transport,
    logLines,
    clock,
    async close() {
      await relay.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A client identity with a registered account. */
export interface TestAccount {
  identity: PrivateKey;
  identityKey: Uint8Array;
  address: Uint8Array;
  token: Uint8Array;
  headers: { authorization: string };
  deliveryToken: Uint8Array;
}

/** Proves a fresh identity key and sets a delivery token. */
export async function registerAccount(c: Clients, identity = PrivateKey.generate(), setDeliveryToken = true): Promise<TestAccount> {
  const identityKey = new Uint8Array(identity.getPublicKey().serialize());
  const { challenge } = await c.account.createChallenge({ identityKey });
  const signature = identity.sign(ab(authSignatureMessage(challenge, identityKey)));
  const proof = await c.account.proveIdentity({ identityKey, challenge, signature, registrationId: 1234 });
  const headers = { authorization: bearerHeader(proof.token) };
  const deliveryToken = crypto.getRandomValues(new Uint8Array(32));
  if (setDeliveryToken) await c.account.setDeliveryToken({ deliveryTokenHash: sha256(deliveryToken) }, { headers });
  return { identity, identityKey, address: proof.address, token: proof.token, headers, deliveryToken };
}

/** Signed EC and Kyber prekeys made with the oracle. */
export function makePreKeys(identity: PrivateKey, opts: { oneTime: number; kyber: number; firstId?: number }) {
  const first = opts.firstId ?? 1;
  const ec = () => new Uint8Array(PrivateKey.generate().getPublicKey().serialize());
  const kyber = (id: number) => {
    const publicKey = new Uint8Array(KEMKeyPair.generate().getPublicKey().serialize());
    return { id, publicKey, signature: new Uint8Array(identity.sign(ab(publicKey))) };
  };
  const spk = ec();
  return {
    signedPreKey: { id: first, publicKey: spk, signature: new Uint8Array(identity.sign(ab(spk))) },
    oneTimePreKeys: Array.from({ length: opts.oneTime }, (_, i) => ({ id: first + i, publicKey: ec() })),
    kyberPreKeys: Array.from({ length: opts.kyber }, (_, i) => kyber(first + i)),
    lastResortKyberPreKey: kyber(first + 100_000),
  };
}

/** 16 random bytes (room ids). */
export const randomId = (): Uint8Array => crypto.getRandomValues(new Uint8Array(16));
/** 32 random bytes (access keys, tokens). */
export const randomKey = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32));

/** Awaits `p`, expecting a ConnectError with `code` and ErrorInfo `reason`; returns it. */
export async function expectRelayError(p: Promise<unknown>, code: Code, reason: string): Promise<ConnectError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof ConnectError)) throw new Error(`expected ConnectError ${reason}, got ${String(caught)}`);
  const got = caught.findDetails(ErrorInfoSchema)[0]?.reason;
  if (caught.code !== code || got !== reason) {
    throw new Error(`expected ${Code[code]}/${reason}, got ${Code[caught.code]}/${String(got)}: ${caught.message}`);
  }
  return caught;
}
