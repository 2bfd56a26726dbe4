// gRPC health checking (`grpc.health.v1.Health`) for the relay: Check, Watch and List,
// reporting SERVING for the whole server ("") and every registered service while the relay
// is open, and NOT_SERVING from the moment shutdown starts.
//
// Owns: the serving state and its watchers. Does not own which services exist (the router's
// handlers say that, see relay/server.ts) or the shutdown sequence itself.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckResponse,
} from "../gen/grpc/health/v1/health_pb.js";

/** The fully-qualified name of the health service, as registered and listed by reflection. */
export const HEALTH_SERVICE_NAME = Health.typeName;

/** Serving state shared by the health service and the server's shutdown sequence (spec API-25). */
export interface HealthState {
  /** True until {@link HealthState.setNotServing} is called. */
  readonly serving: boolean;
  /** Switches every service to NOT_SERVING and wakes every Watch stream (idempotent). */
  setNotServing(): void;
  /** Registers `grpc.health.v1.Health` on a router. */
  register(router: ConnectRouter): void;
}

/**
 * Creates the health state. `serviceNames()` is read at each call, so services registered
 * after the health service (or the health service itself) are reported too.
 */
export function createHealthState(serviceNames: () => readonly string[]): HealthState {
  let serving = true;
  const watchers = new Set<() => void>();

  const statusOf = (service: string): ServingStatus | undefined => {
    if (service !== "" && !serviceNames().includes(service)) return undefined;
    return serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };
  const response = (status: ServingStatus): HealthCheckResponse =>
    create(HealthCheckResponseSchema, { status });

  /** Resolves on the next status change or when the call's signal aborts. */
  const nextChange = (signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        watchers.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      watchers.add(done);
      signal.addEventListener("abort", done, { once: true });
    });

  return {
    get serving() {
      return serving;
    },
    setNotServing() {
      if (!serving) return;
      serving = false;
      for (const wake of [...watchers]) wake();
    },
    register(router) {
      router.service(Health, {
        check(req) {
          const status = statusOf(req.service);
          if (status === undefined) throw new ConnectError("unknown service", Code.NotFound);
          return response(status);
        },
        async *watch(req, context: HandlerContext) {
          // gRPC health: send the current status at once, then on every change; an unknown
          // service is SERVICE_UNKNOWN, not an error. The stream ends when shutdown has been
          // reported or the client goes away.
          let last = statusOf(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
          yield response(last);
          while (!context.signal.aborted && last !== ServingStatus.NOT_SERVING) {
            await nextChange(context.signal);
            if (context.signal.aborted) return;
            const now = statusOf(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
            if (now !== last) {
              last = now;
              yield response(now);
            }
          }
        },
        list() {
          const statuses: Record<string, HealthCheckResponse> = {};
          const status = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
          for (const name of ["", ...serviceNames()]) statuses[name] = response(status);
          return { statuses };
        },
      });
    },
  };
}
