// Component tests of settings: fingerprint, display name, two-step delete everything.
import { cleanup, fireEvent, render, screen } from "@solidjs/testing-library";
import { afterEach, describe, expect, it } from "vitest";
import { SettingsView } from "./settings-view.js";

afterEach(cleanup);

const IDENTITY = { fingerprint: "05a1b2c3d4e5f60718293a4b5c6d7e8f", displayName: "Alice" };

describe("SettingsView", () => {
  it("shows the fingerprint grouped for reading aloud", () => {
    render(() => <SettingsView identity={IDENTITY} onRename={async () => undefined} onDeleteEverything={async () => undefined} onBack={() => undefined} />);
    expect(screen.getByTestId("fingerprint").textContent).toBe("05a1 b2c3 d4e5 f607 1829 3a4b 5c6d 7e8f");
  });

  it("renames, refusing an empty name", async () => {
    const names: string[] = [];
    render(() => <SettingsView identity={IDENTITY} onRename={async (n) => void names.push(n)} onDeleteEverything={async () => undefined} onBack={() => undefined} />);
    const field = screen.getByLabelText("Display name", { selector: "input" }) as HTMLInputElement;
    expect(field.value).toBe("Alice");
    fireEvent.input(field, { target: { value: "   " } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect((await screen.findByRole("status")).textContent).toBe("A display name cannot be empty.");
    fireEvent.input(field, { target: { value: "Alice B." } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Display name saved.")).toBeTruthy();
    expect(names).toEqual(["Alice B."]);
  });

  it("deletes everything only after a second confirmation, and reports failure as a sentence", async () => {
    let deletes = 0;
    render(() => (
      <SettingsView
        identity={IDENTITY}
        onRename={async () => undefined}
        onDeleteEverything={async () => {
          deletes++;
          throw new Error("QuotaExceededError");
        }}
        onBack={() => undefined}
      />
    ));
    fireEvent.click(screen.getByRole("button", { name: "Delete identity and all data…" }));
    expect(deletes).toBe(0);
    fireEvent.click(screen.getByRole("button", { name: "Yes, delete everything" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/Not everything could be deleted/);
    expect(deletes).toBe(1);
  });
});
