/**
 * Which time a message is shown with (spec/11-security-considerations.md SC-18).
 *
 * Owns: `messageTimeMs`. The relay stores post times floored to the hour (SC-18, API-26), so a
 * message loaded from history would show the hour; the sender's own `sent_at_ms`, carried inside
 * the end-to-end encrypted and authenticated Content, is the time to show. The relay's time is a
 * fallback only for a message whose Content carries none (0). Does not own: formatting.
 */

/** The time to display for a message: the sender's `sentAtMs`, else the relay's `postedAtMs`. */
export function messageTimeMs(m: { sentAtMs: number; postedAtMs?: number }): number {
  return m.sentAtMs > 0 ? m.sentAtMs : (m.postedAtMs ?? 0);
}
