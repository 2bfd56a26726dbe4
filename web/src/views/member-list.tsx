/**
 * A room's members with each one's verification state, and the admin's remove action
 * (DESIGN.md §6). Owns the list and the two-step remove confirmation.
 */

import { createSignal, For, Show } from "solid-js";
import type { MemberView, Verification } from "../../../client/app/securecomm-client.js";
import { Avatar } from "../components/avatar.js";

/** Words for each verification state. */
export const VERIFICATION_LABELS: Readonly<Record<Verification, string>> = {
  verified: "Verified",
  unverified: "Not verified",
  changed: "Safety number changed",
};

/** The member list; `onRemove` is offered only when `canRemove`. */
export function MemberList(props: {
  members: readonly MemberView[];
  canRemove: boolean;
  onVerify: (address: string) => void;
  onRemove: (address: string) => Promise<void>;
}) {
  const [confirming, setConfirming] = createSignal<string>();
  return (
    <aside class="members" aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      <ul class="member-list">
        <For each={props.members}>
          {(member) => (
            <li class="member" data-verification={member.verification} data-testid="member">
              <Avatar name={member.displayName} address={member.address} />
              <div class="member-text">
                <span class="member-name">
                  {member.displayName}
                  <Show when={member.isSelf}> (you)</Show>
                </span>
                <span class="member-state">
                  {member.isAdmin ? "Admin · " : ""}
                  <Show when={!member.isSelf} fallback="This device">
                    <span class={`verification ${member.verification}`}>{VERIFICATION_LABELS[member.verification]}</span>
                  </Show>
                </span>
              </div>
              <Show when={!member.isSelf}>
                <div class="member-actions">
                  <button
                    type="button"
                    class="small"
                    onClick={() => props.onVerify(member.address)}
                    aria-label={member.verification === "verified" ? `Safety number with ${member.displayName}` : `Verify ${member.displayName}`}
                  >
                    {member.verification === "verified" ? "Safety number" : "Verify"}
                  </button>
                  <Show when={props.canRemove}>
                    <Show
                      when={confirming() === member.address}
                      fallback={
                        <button
                          type="button"
                          class="small quiet"
                          onClick={() => setConfirming(member.address)}
                          aria-label={`Remove ${member.displayName}`}
                        >
                          Remove
                        </button>
                      }
                    >
                      <button
                        type="button"
                        class="small danger"
                        onClick={() => {
                          setConfirming(undefined);
                          void props.onRemove(member.address);
                        }}
                        aria-label={`Confirm removing ${member.displayName}`}
                      >
                        Confirm
                      </button>
                    </Show>
                  </Show>
                </div>
              </Show>
            </li>
          )}
        </For>
      </ul>
    </aside>
  );
}
