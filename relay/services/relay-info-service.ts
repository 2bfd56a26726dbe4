/**
 * RelayInfoService: the relay's trust root, server certificate, limits and version
 * (relay_info.proto, spec/10-relay-api.md API-22).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetRelayInfoResponseSchema, RelayInfoService } from "../../gen/securecomm/relay/v1/relay_info_pb.js";
import { toRelayLimitsMessage } from "../limits.js";
import { unary, type RelayContext } from "./context.js";

/** Protocol versions this relay speaks. */
export const RELAY_PROTOCOLS: readonly string[] = ["securecomm.relay.v1"];

/** The RelayInfoService implementation (spec/10-relay-api.md API-22). */
export function createRelayInfoService(rc: RelayContext): ServiceImpl<typeof RelayInfoService> {
  const limits = toRelayLimitsMessage(rc.limits);
  return {
    getRelayInfo: unary(rc, async () =>
      create(GetRelayInfoResponseSchema, {
        version: rc.version,
        trustRootPublicKey: rc.trust.trustRoot.publicKey,
        serverCertificate: rc.trust.serverCertificate,
        limits,
        protocols: [...RELAY_PROTOCOLS],
      }),
    ),
  };
}
