// Component tests of the welcome screen (first visit: choose a display name).
import { cleanup, fireEvent, render, screen } from "@solidjs/testing-library";
import { afterEach, describe, expect, it } from "vitest";
import { ProtocolError } from "../../../client/errors.js";
import { ACTION_SENTENCES } from "../lib/error-messages.js";
import { WelcomeView } from "./welcome-view.js";

afterEach(cleanup);

describe("WelcomeView", () => {
  it("creates the identity under the trimmed name", async () => {
    const names: string[] = [];
    render(() => <WelcomeView onCreate={async (n) => void names.push(n)} />);
    fireEvent.input(screen.getByLabelText("Your display name"), { target: { value: "  Alice  " } });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    await Promise.resolve();
    expect(names).toEqual(["Alice"]);
  });

  it("asks for a name instead of submitting an empty one", async () => {
    let calls = 0;
    render(() => <WelcomeView onCreate={async () => void calls++} />);
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/Enter a name/);
    expect(calls).toBe(0);
  });

  it("shows a sentence, never the raw error text, when setup fails", async () => {
    render(() => (
      <WelcomeView
        onCreate={async () => {
          throw new Error("ECONNREFUSED 10.0.0.7:8080 secret-token");
        }}
      />
    ));
    fireEvent.input(screen.getByLabelText("Your display name"), { target: { value: "Bob" } });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe(ACTION_SENTENCES["create-identity"]);
    expect(document.body.textContent).not.toContain("ECONNREFUSED");
    expect(screen.getByRole("button", { name: "Continue" })).not.toHaveProperty("disabled", true);
  });

  it("maps protocol error codes to their sentence", async () => {
    render(() => (
      <WelcomeView
        onCreate={async () => {
          throw new ProtocolError("invalid_signature");
        }}
      />
    ));
    fireEvent.input(screen.getByLabelText("Your display name"), { target: { value: "Bob" } });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/signature did not check out/);
  });

  it("tells an invited visitor they can join after choosing a name", () => {
    render(() => <WelcomeView invited onCreate={async () => undefined} />);
    expect(screen.getByText(/You opened an invite/)).toBeTruthy();
  });
});
