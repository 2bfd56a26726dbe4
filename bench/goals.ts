/**
 * Every performance goal a benchmark is held to, in one place.
 *
 * Owns: the goal constants (threshold, unit, where the goal was set). Each benchmark prints
 * its figures beside these and ends with one verdict line per goal (bench/report.ts). A goal
 * changes here, with the issue that set it, never inside a script.
 */

import type { Goal } from "./stats.js";

/** Posting rate of the relay latency goal (issue 10: 200 posts/s into a room). */
export const RELAY_LATENCY_POSTS_PER_SECOND = 200;
/** Subscribers of the relay latency goal (issue 10: 100 subscribers). */
export const RELAY_LATENCY_SUBSCRIBERS = 100;
/** Streams of the broadcast goal (issue 10: one message to 40,000 streams). */
export const RELAY_BROADCAST_STREAMS = 40_000;
/** Room size of the rooms goals (issue 14: a 100-member room). */
export const ROOM_GOAL_MEMBERS = 100;

/** Relay goals (issue 4 for throughput; issue 10 for latency, memory and broadcast). */
export const RELAY_GOALS = {
  /** Issue 4: delivering into 100 subscribers at ≥ 0.8× a bare Connect fan-out server. */
  throughputVsConnect: {
    id: "relay.throughput-vs-connect",
    description: "relay deliveries/s into 100 subscribers ÷ bare Connect fan-out, median of repeats",
    comparison: ">=",
    threshold: 0.8,
    unit: "×",
    source: "issue 4",
  },
  /** Issue 10: p99 post → delivery under 50 ms at 200 posts/s into 100 subscribers. */
  latencyP99: {
    id: "relay.latency-p99",
    description: `relay p99 post → delivery at ${RELAY_LATENCY_POSTS_PER_SECOND} posts/s × ${RELAY_LATENCY_SUBSCRIBERS} subscribers`,
    comparison: "<",
    threshold: 50,
    unit: "ms",
    source: "issue 10",
  },
  /** Issue 10: an idle Subscribe stream (following rooms) costs under 30 KB of relay memory. */
  idleStreamMemory: {
    id: "relay.idle-stream-memory",
    description: "relay RSS per idle Subscribe stream following rooms, after forced GC",
    comparison: "<",
    threshold: 30,
    unit: "KB",
    source: "issue 10",
  },
  /** Issue 10: one message reaches 40,000 idle streams in under 2 s. */
  broadcast: {
    id: "relay.broadcast",
    description: `one room message → delivered on all idle streams (${RELAY_BROADCAST_STREAMS.toLocaleString("en-US")} in the goal)`,
    comparison: "<",
    threshold: 2000,
    unit: "ms",
    source: "issue 10",
  },
  /** Issue 10: three relay processes on PostgreSQL deliver ≥ 2× one process (bench:relay-postgres). */
  postgresScaleOut: {
    id: "relay.postgres-scale-out",
    description: "aggregate deliveries/s, three relay processes on PostgreSQL ÷ one process",
    comparison: ">=",
    threshold: 2,
    unit: "×",
    source: "issue 10",
  },
} as const satisfies Record<string, Goal>;

/** Protocol goals: our rate ÷ libsignal's in the same run (issue 14). */
export const PROTOCOL_GOALS = {
  setup: { id: "protocol.setup", description: "session setup, ours ÷ libsignal", comparison: ">=", threshold: 0.5, unit: "×", source: "issue 14" },
  dhStep: { id: "protocol.dh-step", description: "pairwise with a DH step every message, ours ÷ libsignal", comparison: ">=", threshold: 0.8, unit: "×", source: "issue 14" },
  oneDirection: { id: "protocol.one-direction", description: "pairwise one direction, ours ÷ libsignal", comparison: ">=", threshold: 1.0, unit: "×", source: "issue 14" },
  senderKeys: { id: "protocol.sender-keys", description: "sender keys encrypt + decrypt, ours ÷ libsignal", comparison: ">=", threshold: 1.0, unit: "×", source: "issue 14" },
  sealedSender: { id: "protocol.sealed-sender", description: "ratchet message sealed + opened, ours ÷ libsignal", comparison: ">=", threshold: 1.0, unit: "×", source: "issue 14" },
} as const satisfies Record<string, Goal>;

/** Rooms goals, measured with the device in its own process (issue 14). */
export const ROOM_GOALS = {
  joinReady: {
    id: "rooms.join-ready",
    description: `join a ${ROOM_GOAL_MEMBERS}-member room → ready (joiner's first message decrypted by every member)`,
    comparison: "<",
    threshold: 2000,
    unit: "ms",
    source: "issue 14",
  },
  sendP99: {
    id: "rooms.send-p99",
    description: `send → decrypted at all ${ROOM_GOAL_MEMBERS} members, p99`,
    comparison: "<",
    threshold: 200,
    unit: "ms",
    source: "issue 14",
  },
} as const satisfies Record<string, Goal>;
