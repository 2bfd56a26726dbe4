// Component tests of the "open in another tab" notice and its "Use here" button.
import { cleanup, fireEvent, render, screen } from "@solidjs/testing-library";
import { afterEach, describe, expect, it } from "vitest";
import { ProtocolError } from "../../../client/errors.js";
import { ACTION_SENTENCES, PROTOCOL_SENTENCES } from "../lib/error-messages.js";
import { OTHER_TAB_TITLE, OtherTabView } from "./other-tab-view.js";

afterEach(cleanup);

/** A promise the test settles by hand. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve = (): void => undefined;
  let reject = (_e: unknown): void => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("OtherTabView", () => {
  it("shows the notice with a Use here button and no app controls", () => {
    render(() => <OtherTabView onUseHere={async () => undefined} />);
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe(OTHER_TAB_TITLE);
    expect(OTHER_TAB_TITLE).toBe("SecureComm is open in another tab");
    expect(screen.getAllByRole("button").map((b) => b.textContent)).toEqual(["Use here"]);
    expect(screen.queryByText(/invite you opened/)).toBeNull();
  });

  it("says a pending invite will be offered after switching", () => {
    render(() => <OtherTabView invited onUseHere={async () => undefined} />);
    expect(screen.getByText(/invite you opened will be offered here/)).toBeTruthy();
  });

  it("takes over once per click and shows progress while the other tab hands over", async () => {
    const handOver = deferred();
    let calls = 0;
    render(() => (
      <OtherTabView
        onUseHere={() => {
          calls++;
          return handOver.promise;
        }}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Use here" }));
    const busy = await screen.findByRole("button", { name: "Switching…" });
    expect((busy as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(busy);
    expect(calls).toBe(1);
    handOver.resolve();
    // Still mounted (yet another tab took over meanwhile): the button is offered again.
    const again = await screen.findByRole("button", { name: "Use here" });
    expect((again as HTMLButtonElement).disabled).toBe(false);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows a sentence, never the raw error text, when taking over fails", async () => {
    render(() => (
      <OtherTabView
        onUseHere={async () => {
          throw new DOMException("lock request failed at securecomm-active-tab 10.0.0.7", "SecurityError");
        }}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Use here" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe(ACTION_SENTENCES["use-here"]);
    expect(document.body.textContent).not.toContain("10.0.0.7");
    expect((screen.getByRole("button", { name: "Use here" }) as HTMLButtonElement).disabled).toBe(false);
  });

  it("maps a protocol failure through the shared sentences", async () => {
    render(() => (
      <OtherTabView
        onUseHere={async () => {
          throw new ProtocolError("invalid_message", { cause: new Error("raw detail that must not show") });
        }}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Use here" }));
    expect((await screen.findByRole("alert")).textContent).toBe(PROTOCOL_SENTENCES.invalid_message);
    expect(document.body.textContent).not.toContain("raw detail");
  });
});
