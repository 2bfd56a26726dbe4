/**
 * Verifying a member: the safety number as 60 digits in 12 groups of 5 and as a QR code of
 * its scannable form; mark as verified; accept a changed key (DESIGN.md §3 "Safety numbers",
 * §6). Owns the layout; the session computes and records.
 */

import { createResource, createSignal, For, Show } from "solid-js";
import type { MemberView } from "../../../client/app/securecomm-client.js";
import { QrCode } from "../components/qr-code.js";
import { errorSentence } from "../lib/error-messages.js";
import { safetyNumberGroups } from "../lib/format.js";
import { VERIFICATION_LABELS } from "./member-list.js";

/** Props of {@link VerifyView}. */
export interface VerifyViewProps {
  member: MemberView;
  loadSafetyNumber: () => Promise<{ digits: string; scannable: Uint8Array }>;
  onMarkVerified: () => Promise<void>;
  onAcceptChange: () => Promise<void>;
  onBack: () => void;
}

/** The verification screen for one member. */
export function VerifyView(props: VerifyViewProps) {
  const [error, setError] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const [number] = createResource(async () => {
    try {
      const n = await props.loadSafetyNumber();
      return { groups: safetyNumberGroups(n.digits), scannable: n.scannable };
    } catch (e) {
      setError(errorSentence(e, "safety-number"));
      return undefined;
    }
  });

  const act = async (action: "verify" | "accept-change", work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (e) {
      setError(errorSentence(e, action));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card verify" aria-labelledby="verify-title">
      <button type="button" class="link-button back" onClick={() => props.onBack()}>← Back to the room</button>
      <h1 id="verify-title">Verify {props.member.displayName}</h1>
      <p class="status-line">
        Status:{" "}
        <span class={`verification ${props.member.verification}`} data-testid="verification-state">
          {VERIFICATION_LABELS[props.member.verification]}
        </span>
      </p>
      <Show when={props.member.verification === "changed"}>
        <div class="banner warning" role="alert">
          <p>
            <strong>{props.member.displayName}'s safety number has changed.</strong> Compare the
            new number with them in person or over a call you trust before accepting it.
          </p>
        </div>
      </Show>
      <p class="lead">
        Compare these numbers with {props.member.displayName}, in person or over a call. If
        they match on both screens, nobody is in the middle.
      </p>
      <Show when={number()} fallback={<Show when={!error()}><p class="hint">Computing the safety number…</p></Show>}>
        {(n) => (
          <div class="safety">
            <ol class="safety-number" aria-label="Safety number" data-testid="safety-number">
              <For each={n().groups}>{(group) => <li>{group}</li>}</For>
            </ol>
            <figure class="safety-qr">
              <QrCode bytes={n().scannable} label={`QR code of the safety number with ${props.member.displayName}`} />
              <figcaption>The same number as a code. SecureComm cannot scan codes: compare the digits.</figcaption>
            </figure>
          </div>
        )}
      </Show>
      <Show when={error()}>
        <p class="error" role="alert">{error()}</p>
      </Show>
      <div class="actions">
        <Show when={props.member.verification === "changed"}>
          <button type="button" class="primary" disabled={busy()} onClick={() => act("accept-change", props.onAcceptChange)}>
            Accept the new safety number
          </button>
        </Show>
        <Show when={props.member.verification !== "verified"}>
          <button
            type="button"
            classList={{ primary: props.member.verification !== "changed" }}
            disabled={busy() || number() === undefined}
            onClick={() => act("verify", props.onMarkVerified)}
          >
            Mark as verified
          </button>
        </Show>
      </div>
    </section>
  );
}
