/**
 * The browser entry point: read an invite from the address bar (and remove it), open the
 * client on IndexedDB against the relay that served the page, mount the app.
 *
 * Owns: start-up order and the "delete everything" restart. Does not own: anything the app
 * shows (app.tsx) or the network client (net/open-web-client.ts).
 */

import "./styles.css";
import { render } from "solid-js/web";
import { App } from "./app.js";
import { ACTION_SENTENCES } from "./lib/error-messages.js";
import { takeInviteFromAddressBar } from "./lib/invite-fragment.js";
import { deleteLocalData, openWebClient } from "./net/open-web-client.js";
import { createWebSession } from "./state/session.js";

async function main(root: HTMLElement): Promise<void> {
  // First thing, before any await: the secret must not stay in the address bar.
  const invite = takeInviteFromAddressBar(window);
  let client;
  try {
    client = await openWebClient();
  } catch {
    const p = document.createElement("p");
    p.className = "error fatal";
    p.setAttribute("role", "alert");
    p.textContent = ACTION_SENTENCES.start;
    root.replaceChildren(p);
    return;
  }
  const opened = client;
  const session = createWebSession(opened, { origin: window.location.origin });
  root.replaceChildren();
  render(
    () => (
      <App
        session={session}
        {...(invite !== undefined ? { initialInvite: invite } : {})}
        addressBar={window}
        onDeleteEverything={async () => {
          await session.deleteEverything();
          session.dispose();
          await opened.close();
          await deleteLocalData();
          window.location.replace(window.location.pathname);
        }}
      />
    ),
    root,
  );
  // The client reconnects on its own and reports its state through events; a failed first
  // start shows as "Offline" in the header with a retry button, so nothing more to do here.
  await session.init().catch(() => undefined);
}

const root = document.getElementById("app");
if (root !== null) void main(root);
