/**
 * The address of one remote device.
 *
 * Owns: `ProtocolAddress` (account name in UUID string form + device id), its map key, and
 * the UUID ⇄ 16-byte conversion used by stored records.
 * Does not own: deriving the 16-byte account address from an identity key (client/keys).
 */

/** One remote device: the UUID form of its 16-byte account address and a device id (1 for now). */
export interface ProtocolAddress {
  readonly name: string;
  readonly deviceId: number;
}

/** The device id of every SecureComm account until multi-device lands (DESIGN.md §7). */
export const DEFAULT_DEVICE_ID = 1;

/** Builds an address; `deviceId` must be 1..127 as in libsignal (RangeError otherwise: misuse). */
export function createProtocolAddress(name: string, deviceId: number = DEFAULT_DEVICE_ID): ProtocolAddress {
  if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > 127) throw new RangeError("device id must be 1..127");
  uuidToBytes(name);
  return { name, deviceId };
}

/** The map key of an address in stores: `name.deviceId`. */
export function addressKey(address: ProtocolAddress): string {
  return `${address.name}.${address.deviceId}`;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 16 bytes of a lowercase UUID string (TypeError for anything else: misuse). */
export function uuidToBytes(uuid: string): Uint8Array {
  if (!UUID_PATTERN.test(uuid)) throw new TypeError("address name must be a lowercase UUID");
  const hex = uuid.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The lowercase UUID string of 16 bytes. */
export function bytesToUuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError("UUID must be 16 bytes");
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
