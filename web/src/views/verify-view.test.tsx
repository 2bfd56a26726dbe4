// Component tests of the verify screen: 60 digits in 12 groups of 5, a QR code of the
// scannable bytes, mark verified, accept a changed key.
import { cleanup, fireEvent, render, screen } from "@solidjs/testing-library";
import { afterEach, describe, expect, it } from "vitest";
import type { MemberView } from "../../../client/app/securecomm-client.js";
import { VerifyView } from "./verify-view.js";

afterEach(cleanup);

const BOB: MemberView = { address: "bob", displayName: "Bob", isAdmin: false, isSelf: false, verification: "unverified" };
const DIGITS = "123450987654321001234567890123456789012345678901234567890123".slice(0, 60);
const SCANNABLE = Uint8Array.from({ length: 80 }, (_, i) => (i * 37) & 0xff);

describe("VerifyView", () => {
  it("shows the safety number in 12 groups of 5 and a QR code", async () => {
    render(() => (
      <VerifyView
        member={BOB}
        loadSafetyNumber={async () => ({ digits: DIGITS, scannable: SCANNABLE })}
        onMarkVerified={async () => undefined}
        onAcceptChange={async () => undefined}
        onBack={() => undefined}
      />
    ));
    const list = await screen.findByTestId("safety-number");
    const groups = Array.from(list.querySelectorAll("li")).map((li) => li.textContent);
    expect(groups).toHaveLength(12);
    expect(groups.join("")).toBe(DIGITS);
    expect(groups.every((g) => g?.length === 5)).toBe(true);
    const qr = screen.getByRole("img", { name: /QR code of the safety number with Bob/ });
    const path = qr.querySelector("path")?.getAttribute("d") ?? "";
    expect(path.length).toBeGreaterThan(100);
    expect(screen.getByTestId("verification-state").textContent).toBe("Not verified");
  });

  it("marks the member verified", async () => {
    let marked = 0;
    render(() => (
      <VerifyView
        member={BOB}
        loadSafetyNumber={async () => ({ digits: DIGITS, scannable: SCANNABLE })}
        onMarkVerified={async () => void marked++}
        onAcceptChange={async () => undefined}
        onBack={() => undefined}
      />
    ));
    await screen.findByTestId("safety-number");
    fireEvent.click(screen.getByRole("button", { name: "Mark as verified" }));
    await Promise.resolve();
    expect(marked).toBe(1);
  });

  it("warns about a changed key and offers to accept it", async () => {
    let accepted = 0;
    render(() => (
      <VerifyView
        member={{ ...BOB, verification: "changed" }}
        loadSafetyNumber={async () => ({ digits: DIGITS, scannable: SCANNABLE })}
        onMarkVerified={async () => undefined}
        onAcceptChange={async () => void accepted++}
        onBack={() => undefined}
      />
    ));
    expect(screen.getByRole("alert").textContent).toContain("Bob's safety number has changed");
    fireEvent.click(screen.getByRole("button", { name: "Accept the new safety number" }));
    await Promise.resolve();
    expect(accepted).toBe(1);
  });

  it("shows a sentence when the safety number cannot be computed", async () => {
    render(() => (
      <VerifyView
        member={BOB}
        loadSafetyNumber={async () => {
          throw new Error("no identity key for 05ab…");
        }}
        onMarkVerified={async () => undefined}
        onAcceptChange={async () => undefined}
        onBack={() => undefined}
      />
    ));
    expect((await screen.findByRole("alert")).textContent).toBe("The safety number could not be computed for this member.");
    expect(document.body.textContent).not.toContain("05ab");
  });
});
