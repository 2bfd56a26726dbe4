/**
 * The app shell: header with connection state, and which screen shows (welcome, home, join
 * confirmation, room, verify, settings). Navigation is in memory on purpose: the address bar
 * only ever carries an invite fragment, which is read once and removed (DESIGN.md §4).
 *
 * Owns: screen selection, the pending invite, wiring views to the session. Does not own:
 * state (state/session.ts), protocol work (client/), or the network client (net/).
 */

import { createEffect, createSignal, Match, onCleanup, onMount, Show, Switch } from "solid-js";
import { ConnectionBadge } from "./components/connection-badge.js";
import { takeInviteFromAddressBar, type AddressBar } from "./lib/invite-fragment.js";
import { parseInviteLink } from "../../client/app/securecomm-client.js";

/** The names an invite link states (spec RM-53), or none when it does not parse. */
function inviteNames(link: string): { roomName?: string; inviterName?: string } {
  try {
    const inv = parseInviteLink(link);
    return { ...(inv.roomName !== "" ? { roomName: inv.roomName } : {}), ...(inv.inviterName !== "" ? { inviterName: inv.inviterName } : {}) };
  } catch {
    return {};
  }
}
import type { WebSession } from "./state/session.js";
import { HomeView } from "./views/home-view.js";
import { JoinView } from "./views/join-view.js";
import { RoomView } from "./views/room-view.js";
import { SettingsView } from "./views/settings-view.js";
import { VerifyView } from "./views/verify-view.js";
import { WelcomeView } from "./views/welcome-view.js";

/** Which screen is showing. */
export type Screen =
  | { name: "home" }
  | { name: "room"; roomId: string; showInvite?: boolean; unreadAtOpen?: number }
  | { name: "verify"; roomId: string; address: string }
  | { name: "settings" };

/** The profile's passphrase lock as Settings drives it (client/vault/profile-vault.ts). */
export interface ProfileLock {
  hasPassphrase(): boolean;
  setPassphrase(passphrase: string): Promise<void>;
  removePassphrase(): Promise<void>;
  /** Forgets the keys in this page (a reload) so the passphrase is asked again. */
  lockNow(): void;
}

/** Props of {@link App}. */
export interface AppProps {
  session: WebSession;
  /** The passphrase lock; absent in component tests without a vault. */
  lock?: ProfileLock;
  /** An invite read from the address bar at start-up, if any. */
  initialInvite?: string;
  /** The window, to pick up invites opened later in this tab (hashchange). */
  addressBar?: AddressBar & Pick<EventTarget, "addEventListener" | "removeEventListener">;
  /** Deletes the identity, all local data, and starts over. */
  onDeleteEverything: () => Promise<void>;
  /**
   * Told whenever the pending invite changes (picked up, joined, declined), so main.tsx can
   * keep it in memory if this tab stops and later takes over again (lib/active-tab.ts).
   */
  onInviteChange?: (link: string | undefined) => void;
}

/** The whole app. */
export function App(props: AppProps) {
  const s = props.session;
  const [screen, setScreen] = createSignal<Screen>({ name: "home" });
  const [invite, setPendingInvite] = createSignal<string | undefined>(props.initialInvite);
  const setInvite = (link: string | undefined) => {
    setPendingInvite(link);
    props.onInviteChange?.(link);
  };

  onMount(() => {
    const bar = props.addressBar;
    if (bar === undefined) return;
    const onHash = () => {
      const link = takeInviteFromAddressBar(bar);
      if (link !== undefined) setInvite(link);
    };
    bar.addEventListener("hashchange", onHash);
    onCleanup(() => bar.removeEventListener("hashchange", onHash));
  });

  const go = (next: Screen) => {
    // Remember how many were unread before opening clears it, for the "New messages" line.
    const target = next.name === "room" ? { ...next, unreadAtOpen: s.state.unread[next.roomId] ?? 0 } : next;
    s.setActiveRoom(next.name === "room" ? next.roomId : undefined);
    setScreen(target);
  };

  // The tab title counts unread messages, so a background tab shows that something arrived.
  createEffect(() => {
    const total = Object.values(s.state.unread).reduce((a, n) => a + (n ?? 0), 0);
    document.title = total > 0 ? `(${total}) SecureComm` : "SecureComm";
  });

  const roomOf = (roomId: string) => s.state.rooms.find((r) => r.roomId === roomId);
  const memberOf = (roomId: string, address: string) =>
    (s.state.members[roomId] ?? []).find((m) => m.address === address);
  const typingNames = (roomId: string) => {
    const typing = s.state.typing[roomId] ?? {};
    const members = s.state.members[roomId] ?? [];
    return Object.keys(typing).map((a) => members.find((m) => m.address === a)?.displayName ?? "Someone");
  };

  return (
    <div class="shell">
      <header class="topbar">
        <button type="button" class="brand" onClick={() => go({ name: "home" })} aria-label="SecureComm, go to your rooms">
          <span class="brand-mark" aria-hidden="true" />
          SecureComm
        </button>
        <Show when={s.state.phase === "ready"}>
          <div class="topbar-right">
            <ConnectionBadge state={s.state.connection} onRetry={() => void s.reconnect().catch(() => undefined)} />
            <button type="button" class="quiet settings-button" onClick={() => go({ name: "settings" })}>
              <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                <circle cx="12" cy="12" r="3.2" fill="none" stroke="currentColor" stroke-width="2" />
                <path
                  d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"
                  stroke="currentColor"
                  stroke-width="2"
                  stroke-linecap="round"
                />
              </svg>
              <span class="settings-label">Settings</span>
            </button>
          </div>
        </Show>
      </header>
      <main class="content">
        <Switch>
          <Match when={s.state.phase === "loading"}>
            <p class="loading" role="status">Opening SecureComm…</p>
          </Match>
          <Match when={s.state.phase === "welcome"}>
            <WelcomeView invited={invite() !== undefined} onCreate={(name) => s.createIdentity(name)} />
          </Match>
          <Match when={invite()}>
            {(link) => (
              <JoinView
                {...inviteNames(link())}
                onJoin={async () => {
                  const roomId = await s.joinRoom(link());
                  setInvite(undefined);
                  go({ name: "room", roomId });
                }}
                onCancel={() => setInvite(undefined)}
              />
            )}
          </Match>
          <Match when={screen().name === "settings" && s.state.identity}>
            {(identity) => (
              <SettingsView
                identity={identity()}
                onRename={(name) => s.setDisplayName(name)}
                {...(props.lock !== undefined ? { lock: props.lock } : {})}
                onDeleteEverything={props.onDeleteEverything}
                onBack={() => go({ name: "home" })}
              />
            )}
          </Match>
          <Match when={(() => { const v = screen(); return v.name === "verify" ? v : undefined; })()}>
            {(v) => (
              <Show when={memberOf(v().roomId, v().address)} fallback={<p class="hint">This member is no longer in the room.</p>}>
                {(member) => (
                  <VerifyView
                    member={member()}
                    loadSafetyNumber={() => s.safetyNumber(v().roomId, v().address)}
                    onMarkVerified={() => s.markVerified(v().address)}
                    onAcceptChange={() => s.acceptIdentityChange(v().address)}
                    onBack={() => go({ name: "room", roomId: v().roomId })}
                  />
                )}
              </Show>
            )}
          </Match>
          <Match when={(() => { const v = screen(); return v.name === "room" ? v : undefined; })()}>
            {(v) => (
              <Show when={roomOf(v().roomId)} fallback={<p class="hint">This room is no longer on this device.</p>}>
                {(room) => (
                  <RoomView
                    room={room()}
                    timeline={s.state.timelines[v().roomId] ?? []}
                    members={s.state.members[v().roomId] ?? []}
                    typingNames={typingNames(v().roomId)}
                    closedReason={s.state.closed[v().roomId]}
                    undecryptable={s.state.undecryptable[v().roomId] === true}
                    forged={s.state.forged[v().roomId] === true}
                    inviteLink={() => s.inviteLink(v().roomId)}
                    onResetLink={() => s.resetInviteLink(v().roomId)}
                    showInvite={v().showInvite === true}
                    onSend={(text, replyTo) => s.send(v().roomId, text, replyTo)}
                    onReact={(messageId, emoji) => s.react(v().roomId, messageId, emoji)}
                    onEdit={(messageId, text) => s.editMessage(v().roomId, messageId, text)}
                    onDelete={(messageId) => s.deleteMessage(v().roomId, messageId)}
                    onSendFiles={(files, text, onProgress) => s.sendFiles(v().roomId, files, text, onProgress)}
                    onDownload={(a, onProgress) => s.downloadAttachment(a, onProgress)}
                    onRetry={(key) => s.retry(v().roomId, key)}
                    onDiscard={(key) => s.discard(v().roomId, key)}
                    onTyping={() => s.noteTyping(v().roomId)}
                    onStopTyping={() => s.stopTyping(v().roomId)}
                    onLeave={async () => {
                      await s.leaveRoom(v().roomId);
                      go({ name: "home" });
                    }}
                    onRemove={(address) => s.removeMember(v().roomId, address)}
                    onVerify={(address) => go({ name: "verify", roomId: v().roomId, address })}
                    onAcceptChange={(address) => s.acceptIdentityChange(address)}
                    retention={s.state.retention[v().roomId] ?? "keep"}
                    onRetention={(r) => s.setRetention(v().roomId, r)}
                    onClearHistory={() => s.clearHistory(v().roomId)}
                    unreadAtOpen={v().unreadAtOpen ?? 0}
                    disconnected={s.state.connection !== "online"}
                  />
                )}
              </Show>
            )}
          </Match>
          <Match when={s.state.identity}>
            {(identity) => (
              <HomeView
                displayName={identity().displayName}
                rooms={s.state.rooms}
                unread={s.state.unread}
                onCreateRoom={async (name) => {
                  const { roomId } = await s.createRoom(name);
                  go({ name: "room", roomId, showInvite: true });
                }}
                onOpenRoom={(roomId) => go({ name: "room", roomId })}
                onInviteLink={(link) => setInvite(link)}
              />
            )}
          </Match>
        </Switch>
      </main>
    </div>
  );
}
