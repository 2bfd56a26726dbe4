/**
 * The session layer on client/keys: identities and prekey records made by client/keys, a relay
 * PreKeyBundle verified by verifyPreKeyBundle (ID-08) and handed to SessionBuilder as is.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PreKeyBundleSchema } from "../../gen/securecomm/relay/v1/keys_pb.js";
import { utf8 } from "../crypto/bytes.js";
import { addressToString } from "../keys/address.js";
import { verifyPreKeyBundle } from "../keys/bundle.js";
import { createIdentityKeyPair, type IdentityKeyPair } from "../keys/identity.js";
import {
  createKyberPreKey,
  createOneTimePreKeys,
  createSignedPreKey,
  kyberPreKeyUpload,
  preKeyUpload,
  signedPreKeyUpload,
} from "../keys/prekeys.js";
import { TestProtocolStore } from "../store/protocol-store.test-support.js";
import { createProtocolAddress } from "../store/protocol-address.js";
import { SessionBuilder } from "./session-builder.js";
import { SessionCipher } from "./session-cipher.js";

async function account() {
  const identity: IdentityKeyPair = createIdentityKeyPair();
  const store = await TestProtocolStore.open(identity.keyPair, identity.registrationId, Date.now);
  const signed = createSignedPreKey(identity, 1, Date.now());
  const kyber = createKyberPreKey(identity, 1, Date.now(), { lastResort: true });
  const [oneTime] = createOneTimePreKeys(1, 1);
  if (oneTime === undefined) throw new Error("no prekey");
  await store.storeSignedPreKey(signed);
  await store.storeKyberPreKey(kyber);
  await store.storePreKey(oneTime);
  const bundle = create(PreKeyBundleSchema, {
    identityKey: identity.publicKey.serialize(),
    registrationId: identity.registrationId,
    deviceId: 1,
    signedPreKey: signedPreKeyUpload(signed),
    oneTimePreKey: preKeyUpload(oneTime),
    kyberPreKey: kyberPreKeyUpload(kyber),
    kyberPreKeyIsLastResort: true,
  });
  return {
    identity,
    store,
    bundle,
    address: createProtocolAddress(addressToString(identity.address)),
    cipher: new SessionCipher(store),
  };
}

describe("sessions on client/keys records and verified bundles (ID-08, PX-01)", () => {
  it("a verified relay bundle starts a session that works both ways", async () => {
    const alice = await account();
    const bob = await account();
    const verified = await verifyPreKeyBundle(bob.bundle, bob.identity.address);
    await new SessionBuilder(alice.store).processPreKeyBundle(bob.address, verified);
    const first = await alice.cipher.encrypt(bob.address, utf8("hello bob"));
    expect(first.type).toBe(3);
    expect(await bob.cipher.decryptMessage(alice.address, first)).toEqual(utf8("hello bob"));
    const reply = await bob.cipher.encrypt(alice.address, utf8("hello alice"));
    expect(reply.type).toBe(2);
    expect(await alice.cipher.decryptMessage(bob.address, reply)).toEqual(utf8("hello alice"));
    // The last-resort Kyber key remembers the handshake (PX-11); the one-time prekey is gone.
    expect(bob.store.rememberedKyberUses(1)).toBe(1);
    expect(await bob.store.loadPreKey(1)).toBeUndefined();
  });
});
