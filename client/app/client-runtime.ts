/**
 * The implementation behind `openSecureCommClient` (in progress; see git log -- client/app).
 */
import type { SecureCommClient, SecureCommClientOptions } from "./securecomm-client.js";

/** Opens the client runtime; not implemented yet (the contract commit comes first). */
export async function openClientRuntime(_options: SecureCommClientOptions): Promise<SecureCommClient> {
  throw new Error("The client runtime is not implemented yet.");
}
