/**
 * The relay connection as a small badge with a retry button when offline (DESIGN.md §6,
 * "connection status and automatic reconnect").
 *
 * Owns: the words and look of each connection state. Does not own: reconnecting (the client
 * retries with backoff on its own; the button only restarts it sooner).
 */

import { Show } from "solid-js";
import type { ConnectionState } from "../../../client/app/securecomm-client.js";

/** Words for each connection state. */
export const CONNECTION_LABELS: Readonly<Record<ConnectionState, string>> = {
  online: "Connected",
  connecting: "Connecting…",
  offline: "Offline — retrying",
};

/** The badge; `onRetry` runs when the user asks to reconnect now. */
export function ConnectionBadge(props: { state: ConnectionState; onRetry: () => void }) {
  return (
    <div class="connection" data-state={props.state} role="status" aria-live="polite">
      <span class="connection-dot" aria-hidden="true" />
      <span class="connection-label">{CONNECTION_LABELS[props.state]}</span>
      <Show when={props.state === "offline"}>
        <button type="button" class="link-button" onClick={() => props.onRetry()}>
          Retry now
        </button>
      </Show>
    </div>
  );
}
