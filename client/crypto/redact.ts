/**
 * Redaction for objects that hold secrets.
 *
 * Owns: `SecretHolder`, the base class that makes an object print as a fixed tag from
 * `toString()`, `toJSON()`, template literals and Node's `util.inspect` (STYLE.md, Secrets).
 * Subclasses keep their secret bytes in `#private` fields so enumeration cannot reach them
 * either. Does not own: zeroising memory (JavaScript gives no guarantee about copies).
 */

/** Node's inspect hook, addressed through the global symbol registry so browsers need no import. */
export const INSPECT_CUSTOM: unique symbol = Symbol.for("nodejs.util.inspect.custom") as never;

/** The text every secret-holding object prints as, e.g. `[PrivateKey: redacted]`. */
export function redactedTag(name: string): string {
  return `[${name}: redacted]`;
}

/**
 * Base class for anything holding secret material: it prints only `redactedTag(name)`.
 */
export class SecretHolder {
  readonly #tag: string;

  protected constructor(name: string) {
    this.#tag = redactedTag(name);
  }

  /** The redacted tag; never the secret. */
  toString(): string {
    return this.#tag;
  }

  /** The redacted tag, so `JSON.stringify` never serialises the secret. */
  toJSON(): string {
    return this.#tag;
  }

  /** Node's `util.inspect` / `console.log` hook: the redacted tag. */
  [INSPECT_CUSTOM](): string {
    return this.#tag;
  }
}
