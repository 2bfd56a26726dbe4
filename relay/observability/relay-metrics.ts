/**
 * The relay's own metrics: the fixed set of counters and histograms the services update.
 *
 * Owns: metric names and their label sets (RPC method names, Connect code names and fixed
 * kinds only, never identifiers). See spec/10-relay-api.md, "Metrics".
 */
import {
  createMetricsRegistry,
  LATENCY_BUCKETS_SECONDS,
  SIZE_BUCKETS_BYTES,
  type Counter,
  type Histogram,
  type MetricsRegistry,
} from "./metrics.js";

/** The relay's metrics. */
export interface RelayMetrics {
  readonly registry: MetricsRegistry;
  /** RPCs finished, by `method` and `code` ("ok" or a Connect code name). */
  readonly rpcs: Counter;
  /** RPC handling time in seconds, by `method` (unary) . */
  readonly rpcSeconds: Histogram;
  /** Envelopes stored, by `kind` ("mailbox" | "room"). */
  readonly envelopesStored: Counter;
  /** Stored envelope sizes, by `kind`. */
  readonly envelopeBytes: Histogram;
  /** Ephemeral room envelopes fanned out. */
  readonly ephemeralPosts: Counter;
  /** Events handed to Subscribe streams, by `kind` ("mailbox" | "room" | "ephemeral"). */
  readonly deliveries: Counter;
  /** Subscribe stream messages written, by `event` (oneof case). */
  readonly streamMessages: Counter;
  /** Subscribe streams opened. */
  readonly streamsOpened: Counter;
  /** Subscribe streams ended, by `reason` ("client" | "slow_consumer" | "shutdown" | "error"). */
  readonly streamsClosed: Counter;
  /** One-time prekeys handed out, by `kind` ("ec" | "kyber" | "kyber_last_resort"). */
  readonly preKeysHandedOut: Counter;
  /** Rows removed by retention sweeps, by `kind`. */
  readonly sweptRows: Counter;
  /** Durable write batches committed and their sizes. */
  readonly writeBatchSize: Histogram;
  /** Time to commit a write batch in seconds. */
  readonly commitSeconds: Histogram;
  /** Connections refused, evicted or timed out, by `event` (a fixed reason; never an address). */
  readonly connectionEvents: Counter;
  /** Bundles served without one-time prekeys because the target's handout budget was spent. */
  readonly preKeyHandoutsLimited: Counter;
}

/** Creates the relay's metrics in a fresh registry. */
export function createRelayMetrics(): RelayMetrics {
  const registry = createMetricsRegistry();
  return {
    registry,
    rpcs: registry.counter("securecomm_relay_rpcs_total", "RPCs finished, by method and code."),
    rpcSeconds: registry.histogram("securecomm_relay_rpc_duration_seconds", "Unary RPC handling time.", LATENCY_BUCKETS_SECONDS),
    envelopesStored: registry.counter("securecomm_relay_envelopes_stored_total", "Envelopes stored durably, by kind."),
    envelopeBytes: registry.histogram("securecomm_relay_envelope_bytes", "Sizes of stored envelopes, by kind.", SIZE_BUCKETS_BYTES),
    ephemeralPosts: registry.counter("securecomm_relay_ephemeral_posts_total", "Ephemeral room envelopes fanned out."),
    deliveries: registry.counter("securecomm_relay_deliveries_total", "Events handed to Subscribe streams, by kind."),
    streamMessages: registry.counter("securecomm_relay_stream_messages_total", "Subscribe stream messages, by event."),
    streamsOpened: registry.counter("securecomm_relay_streams_opened_total", "Subscribe streams opened."),
    streamsClosed: registry.counter("securecomm_relay_streams_closed_total", "Subscribe streams ended, by reason."),
    preKeysHandedOut: registry.counter("securecomm_relay_prekeys_handed_out_total", "Prekeys handed out in bundles, by kind."),
    sweptRows: registry.counter("securecomm_relay_retention_swept_total", "Rows removed by retention sweeps, by kind."),
    writeBatchSize: registry.histogram("securecomm_relay_write_batch_size", "Writes per durable commit.", [1, 2, 4, 8, 16, 32, 64, 128, 256]),
    commitSeconds: registry.histogram("securecomm_relay_commit_duration_seconds", "Durable commit time.", LATENCY_BUCKETS_SECONDS),
    connectionEvents: registry.counter("securecomm_relay_connection_events_total", "Connections refused, evicted or timed out, by event."),
    preKeyHandoutsLimited: registry.counter("securecomm_relay_prekey_handouts_limited_total", "Bundles served without one-time prekeys (per-target handout limit)."),
  };
}
