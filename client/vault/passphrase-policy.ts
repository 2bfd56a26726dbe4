/**
 * The one rule a new passphrase must meet, shared by the CLI's file store and the web app's
 * profile lock.
 *
 * Owns: the minimum length and the sentence that explains it. Does not own: key derivation
 * (client/file-store/header.ts, scrypt) or reading the passphrase (CLI prompt, web form).
 */

/**
 * Fewest characters (Unicode code points, after NFC) a new passphrase may have. Scrypt makes
 * each guess cost about half a second of work and 64 MiB, but a one-word passphrase from a
 * dictionary still falls within hours; eight characters is the floor NIST SP 800-63B sets for
 * memorised secrets. Only new passphrases are checked: existing stores still open.
 */
export const MIN_PASSPHRASE_LENGTH = 8;

/** Why `passphrase` may not be set as a new passphrase, or undefined when it may. */
export function newPassphraseProblem(passphrase: string): string | undefined {
  if ([...passphrase.normalize("NFC")].length < MIN_PASSPHRASE_LENGTH) {
    return `The passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters.`;
  }
  return undefined;
}
