/**
 * The full-page notice of a tab that does not run the client because another tab of the same
 * browser profile does (lib/active-tab.ts). Owns the notice and its "Use here" button; main.tsx
 * takes over the lock and starts the client.
 */

import { createSignal, Show } from "solid-js";
import { errorSentence } from "../lib/error-messages.js";

/** The heading of the notice (also what the browser test looks for). */
export const OTHER_TAB_TITLE = "SecureComm is open in another tab";

/** Props of {@link OtherTabView}. */
export interface OtherTabViewProps {
  /** Takes over from the other tab; resolves once this tab runs, or rejects. */
  onUseHere: () => Promise<void>;
  /** True when this tab holds an invite that will be offered after taking over. */
  invited?: boolean;
}

/** "SecureComm is open in another tab", with a button to use it here instead. */
export function OtherTabView(props: OtherTabViewProps) {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const useHere = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onUseHere();
    } catch (e) {
      setError(errorSentence(e, "use-here"));
    }
    // Still mounted: either it failed, or another tab took over meanwhile; offer it again.
    setBusy(false);
  };
  return (
    <div class="shell">
      <header class="topbar">
        <span class="brand">
          <span class="brand-mark" aria-hidden="true" />
          SecureComm
        </span>
      </header>
      <main class="content">
        <section class="card other-tab" aria-labelledby="other-tab-title">
          <h1 id="other-tab-title">{OTHER_TAB_TITLE}</h1>
          <p class="lead">
            Your rooms can be open in one tab at a time, so that your encrypted conversations stay
            in step. Use SecureComm there, or move it to this tab.
          </p>
          <Show when={props.invited === true}>
            <p class="hint">The invite you opened will be offered here once you switch.</p>
          </Show>
          <Show when={error()}>
            <p class="error" role="alert">{error()}</p>
          </Show>
          <div class="actions">
            <button type="button" class="primary" onClick={useHere} disabled={busy()}>
              {busy() ? "Switching…" : "Use here"}
            </button>
          </div>
          <p class="fineprint">
            The other tab will stop and show this same notice. If you close it instead, SecureComm
            starts here by itself.
          </p>
        </section>
      </main>
    </div>
  );
}
