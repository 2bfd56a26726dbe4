/**
 * Starting a session from a recipient's prekey bundle (the PQXDH initiator side).
 *
 * Owns: `SessionBuilder.processPreKeyBundle`: verify the bundle, check identity trust, run
 * PQXDH, create the initiator state and make it current in the record (earlier states are
 * archived, spec DR-19), and record the identity on first use.
 * Does not own: fetching bundles (relay connection), the key agreement itself (handshake).
 */

import { PrivateKey } from "../crypto/curve.js";
import { ProtocolError } from "../errors.js";
import type { VerifiedPreKeyBundle } from "../keys/bundle.js";
import { pqxdhInitiate } from "../handshake/pqxdh.js";
import { type PreKeyBundle, verifyBundleSignatures } from "../handshake/prekey-bundle.js";
import { createInitiatorState } from "../ratchet/session-state.js";
import type { ProtocolAddress } from "../store/protocol-address.js";
import type { IdentityKeyStore, SessionStore } from "../store/store-interfaces.js";
import { checkAddressBinding } from "./address-binding.js";
import { withStoreLock } from "./store-lock.js";
import { emptySessionRecord, promoteState } from "./session-record.js";

/** Options of `SessionBuilder`; tests inject a clock. */
export interface SessionBuilderOptions {
  /** Unix milliseconds, recorded as the session's creation time. */
  readonly now?: () => number;
  /**
   * Require the address to be the hash of the bundle's identity key (spec ID-03, ID-11).
   * Default true; false only for peers outside SecureComm's address scheme (libsignal tests).
   */
  readonly addressBinding?: boolean;
}

/** Builds sessions with remote devices from their prekey bundles (spec PX-01..PX-06, PX-14). */
export class SessionBuilder {
  readonly #store: IdentityKeyStore & SessionStore;
  readonly #now: () => number;
  readonly #addressBinding: boolean;

  constructor(store: IdentityKeyStore & SessionStore, options: SessionBuilderOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#addressBinding = options.addressBinding ?? true;
  }

  /**
   * Starts a new session with `address` from `bundle` (spec PX-01..PX-06, PX-14, ID-11). Throws
   * ProtocolError "invalid_signature" for a badly signed bundle, "untrusted_identity" when the
   * bundle's identity is not the one `address` names (ID-11) or not the one trusted for it,
   * "invalid_key" for unusable keys. Nothing is stored on failure.
   */
  processPreKeyBundle(address: ProtocolAddress, bundle: PreKeyBundle | VerifiedPreKeyBundle): Promise<void> {
    return withStoreLock(this.#store, () => this.#process(address, bundle));
  }

  async #process(address: ProtocolAddress, bundle: PreKeyBundle | VerifiedPreKeyBundle): Promise<void> {
    // A bundle from client/keys' verifyPreKeyBundle (ID-08) already had its signatures checked
    // over the bytes received; any other bundle is checked here.
    if (!("kind" in bundle && bundle.kind === "verified-prekey-bundle")) await verifyBundleSignatures(bundle);
    if (this.#addressBinding) checkAddressBinding(address, bundle.identityKey.serialize());
    if (!(await this.#store.isTrustedIdentity(address, bundle.identityKey, "sending"))) {
      throw new ProtocolError("untrusted_identity");
    }
    const identity = await this.#store.getIdentityKeyPair();
    const agreement = await pqxdhInitiate({ ourIdentity: identity, bundle });
    const state = await createInitiatorState({
      secrets: agreement.secrets,
      localIdentityKey: identity.publicKey.serialize(),
      remoteIdentityKey: bundle.identityKey.serialize(),
      localRegistrationId: await this.#store.getLocalRegistrationId(),
      remoteRegistrationId: bundle.registrationId,
      baseKey: agreement.baseKey.serialize(),
      theirSignedPreKey: bundle.signedPreKey,
      ourRatchetKey: await PrivateKey.generateAsync({ reloaded: true }),
      pending: {
        preKeyId: bundle.preKeyId,
        signedPreKeyId: bundle.signedPreKeyId,
        kyberPreKeyId: bundle.kyberPreKeyId,
        kyberCiphertext: agreement.kyberCiphertext,
        createdAtMs: BigInt(this.#now()),
      },
    });
    const record = (await this.#store.loadSession(address)) ?? emptySessionRecord();
    await this.#store.storeSession(address, promoteState(record, state));
    await this.#store.saveIdentity(address, bundle.identityKey);
  }
}
