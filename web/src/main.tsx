/**
 * The browser entry point: read an invite from the address bar (and remove it), claim the
 * active-tab lock, open the client on IndexedDB against the relay that served the page, mount
 * the app. A tab without the lock shows the "open in another tab" notice instead; a tab that
 * loses it ("Use here" elsewhere) stops its client, closes the store and shows the notice.
 *
 * Owns: start-up order, the active-tab life cycle (lib/active-tab.ts), the invite kept in
 * memory across it, the passphrase prompt of a locked profile (client/vault), and the "delete
 * everything" restart. Does not own: anything the app shows
 * (app.tsx, views/) or the network client (net/open-web-client.ts).
 */

import "./styles.css";
import type { JSX } from "solid-js";
import { render } from "solid-js/web";
import { App, type ProfileLock } from "./app.js";
import type { OpenedVault, ProfileVault } from "../../client/vault/profile-vault.js";
import { RoomHistory } from "../../client/vault/room-history.js";
import { claimActiveTab, type ActiveTabLease } from "./lib/active-tab.js";
import { ACTION_SENTENCES } from "./lib/error-messages.js";
import { takeInviteFromAddressBar } from "./lib/invite-fragment.js";
import { deleteLocalData, openWebClient, openWebProfile } from "./net/open-web-client.js";
import { createWebSession } from "./state/session.js";
import { OtherTabView } from "./views/other-tab-view.js";
import { UnlockView } from "./views/unlock-view.js";

function main(root: HTMLElement): void {
  // First thing, before any await: the secret must not stay in the address bar. It is kept in
  // memory until joined or declined, so it survives this tab waiting behind another one.
  let pendingInvite = takeInviteFromAddressBar(window);
  let running = false;
  let failed = false;
  /** Set while this tab queues for the lock behind the notice; aborted by "Use here". */
  let waiting: AbortController | undefined;
  let unmount: (() => void) | undefined;

  const show = (view: () => JSX.Element): void => {
    unmount?.();
    root.replaceChildren();
    unmount = render(view, root);
  };
  const showFatal = (): void => {
    failed = true;
    waiting?.abort();
    unmount?.();
    unmount = undefined;
    const p = document.createElement("p");
    p.className = "error fatal";
    p.setAttribute("role", "alert");
    p.textContent = ACTION_SENTENCES.start;
    root.replaceChildren(p);
  };
  const showNotice = (): void => {
    show(() => <OtherTabView invited={pendingInvite !== undefined} onUseHere={useHere} />);
    waitForFreeLock();
  };

  // While the notice shows, no App listens for invites opened in this tab: keep them too.
  window.addEventListener("hashchange", () => {
    if (running || failed) return;
    const link = takeInviteFromAddressBar(window);
    if (link === undefined) return;
    pendingInvite = link;
    showNotice();
  });

  /**
   * Behind the notice, queue for the lock: when the other tab closes (or a reload of this tab
   * released it a moment late), this tab starts by itself.
   */
  function waitForFreeLock(): void {
    waiting?.abort();
    const queued = new AbortController();
    waiting = queued;
    claimActiveTab(globalThis.navigator.locks, { mode: "wait", signal: queued.signal }).then(
      (lease) => {
        if (lease === undefined) return;
        if (queued.signal.aborted || running) return lease.release();
        waiting = undefined;
        return run(lease);
      },
      // Queueing is a convenience; "Use here" still works and reports its own failure.
      () => undefined,
    );
  }

  /** "Use here": stop queueing, take the lock from the other tab, run here. */
  async function useHere(): Promise<void> {
    waiting?.abort();
    waiting = undefined;
    let lease;
    try {
      lease = await claimActiveTab(globalThis.navigator.locks, { mode: "steal" });
    } catch (error) {
      waitForFreeLock();
      throw error; // the notice shows its sentence (lib/error-messages.ts)
    }
    if (lease === undefined) {
      // Yet another tab took over while this one waited: queue again behind the notice.
      waitForFreeLock();
      return;
    }
    await run(lease);
  }

  /**
   * Runs under `lease` until another tab takes over: opens the profile vault (asking for its
   * passphrase first when it is locked), then the client and the app.
   */
  async function run(lease: ActiveTabLease): Promise<void> {
    let opened: OpenedVault;
    try {
      opened = await openWebProfile();
    } catch {
      lease.release();
      showFatal();
      return;
    }
    running = true;
    let vault: ProfileVault | undefined = opened.locked ? undefined : opened.vault;
    let stopApp: (() => Promise<void>) | undefined;

    const startOver = async (): Promise<void> => {
      await (vault?.close() ?? (opened.locked ? opened.close() : Promise.resolve()));
      await deleteLocalData();
      window.location.replace(window.location.pathname);
    };

    const startApp = async (open: ProfileVault): Promise<void> => {
      let client;
      try {
        client = await openWebClient(open);
      } catch {
        showFatal();
        return;
      }
      const opened = client;
      const session = createWebSession(opened, { origin: window.location.origin, history: new RoomHistory(open.historyStore) });
      const invite = pendingInvite;
      const lock: ProfileLock = {
        hasPassphrase: () => open.hasPassphrase,
        setPassphrase: (p) => open.setPassphrase(p),
        removePassphrase: () => open.removePassphrase(),
        // The keys live only in this page's memory: reloading forgets them.
        lockNow: () => window.location.reload(),
      };
      show(() => (
        <App
          session={session}
          lock={lock}
          {...(invite !== undefined ? { initialInvite: invite } : {})}
          addressBar={window}
          onInviteChange={(link) => (pendingInvite = link)}
          onDeleteEverything={async () => {
            await session.deleteEverything();
            session.dispose();
            await opened.close();
            await open.close();
            await deleteLocalData();
            window.location.replace(window.location.pathname);
          }}
        />
      ));
      // The client reconnects on its own and reports its state through events; a failed first
      // start shows as "Offline" in the header with a retry button, so nothing more to do here.
      const initialised = session.init().catch(() => undefined);
      // While this tab is in the background, a message from someone else raises a
      // notification (if the browser allows them: Settings asks). It names the room and the
      // sender, never the text, so nothing of the conversation shows on a locked screen.
      const offNotify = opened.on("message", (m) => {
        if (m.own || !document.hidden || typeof Notification === "undefined" || Notification.permission !== "granted") return;
        const room = session.state.rooms.find((r) => r.roomId === m.roomId)?.name ?? "a room";
        new Notification(`New message in ${room}`, { body: `From ${m.senderName}`, tag: m.roomId });
      });
      stopApp = async () => {
        offNotify();
        session.dispose();
        await initialised;
        await opened.close().catch(() => undefined);
      };
    };

    if (vault !== undefined) await startApp(vault);
    else if (opened.locked) {
      const locked = opened;
      show(() => (
        <UnlockView
          onUnlock={async (passphrase) => {
            vault = await locked.unlock(passphrase);
            await startApp(vault);
          }}
          onStartOver={startOver}
        />
      ));
    }

    void lease.lost.then(async () => {
      // Another tab pressed "Use here": stop the Subscribe loop, close the store, and only
      // then release the lock that tab waits on before opening the same database.
      running = false;
      const stop = stopApp;
      showNotice();
      await stop?.();
      await (vault?.close() ?? (opened.locked ? opened.close() : Promise.resolve())).catch(() => undefined);
      lease.release();
    });
  }

  /** Start-up: run if no other tab does, otherwise show the notice. */
  async function start(): Promise<void> {
    const lease = await claimActiveTab(globalThis.navigator.locks, { mode: "if-free" });
    if (lease === undefined) showNotice();
    else await run(lease);
  }

  void start().catch(showFatal);
}

const root = document.getElementById("app");
if (root !== null) main(root);
