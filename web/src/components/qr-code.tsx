/**
 * A QR code drawn as one SVG path (no inline styles, so the relay's strict CSP allows it).
 *
 * Owns: turning bytes into a module matrix (uqr, byte mode) and that matrix into SVG. Does
 * not own: what the bytes are (the scannable safety number from client/fingerprint).
 */

import { encode } from "uqr";
import { createMemo } from "solid-js";

/** Quiet-zone width in modules; the QR standard asks for 4 so scanners find the code. */
export const QR_QUIET_ZONE = 4;

/** The SVG path for a QR matrix: one unit square per dark module, offset by the quiet zone. */
export function qrPath(matrix: readonly (readonly boolean[])[], offset: number): string {
  const parts: string[] = [];
  matrix.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) parts.push(`M${x + offset} ${y + offset}h1v1h-1z`);
    });
  });
  return parts.join("");
}

/** A QR code of `bytes` with an accessible label. */
export function QrCode(props: { bytes: Uint8Array; label: string }) {
  const code = createMemo(() => {
    // Medium error correction: survives a scuffed screen, still small for ~100 bytes.
    const qr = encode(Array.from(props.bytes), { ecc: "M", border: 0 });
    return { size: qr.size + 2 * QR_QUIET_ZONE, path: qrPath(qr.data, QR_QUIET_ZONE) };
  });
  return (
    <svg
      class="qr"
      role="img"
      aria-label={props.label}
      viewBox={`0 0 ${code().size} ${code().size}`}
      shape-rendering="crispEdges"
    >
      <rect width={code().size} height={code().size} fill="#ffffff" />
      <path d={code().path} fill="#000000" />
    </svg>
  );
}
