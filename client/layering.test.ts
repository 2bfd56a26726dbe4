/**
 * The layering of `client/`, declared once and enforced (STYLE.md "Layering is enforced by a
 * test, not by good intentions").
 *
 * Owns: `LAYERS`, the order in which client folders may import each other, and the check that
 * no production module (tests and test support excluded: an integration test may assemble
 * higher layers) imports from a folder above its own. Folders on the same rung may not import
 * each other either. The order was read off the real imports:
 *
 *   the root modules (errors.ts, padding.ts) → crypto → keys → fingerprint → handshake →
 *   ratchet → store (key-value store, state store, protocol store) → session →
 *   sender-keys | sealed-sender → server → file-store | idb-store (key-value backends) →
 *   vault (the encrypted profile and local history over any backend) → relay → attachments
 *   (the encrypted file format and blob transfer, issue 13) → account →
 *   room → app → cli
 *
 * `e2e/` holds only tests and is not a layer.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** Rungs from the bottom; a folder may import only from its own folder and lower rungs. */
export const LAYERS: ReadonlyArray<ReadonlyArray<string>> = [
  ["<root>"],
  ["crypto"],
  ["keys"],
  ["fingerprint"],
  ["handshake"],
  ["ratchet"],
  ["store"],
  ["session"],
  ["sender-keys", "sealed-sender"],
  ["server"],
  ["file-store", "idb-store"],
  ["vault"],
  ["relay"],
  ["attachments"],
  ["account"],
  ["room"],
  ["app"],
  ["cli"],
];

const CLIENT = dirname(fileURLToPath(import.meta.url));

function rungOf(folder: string): number {
  const i = LAYERS.findIndex((rung) => rung.includes(folder));
  return i;
}

/** `<root>` for client/*.ts, else the first folder under client/. */
function folderOf(file: string): string {
  const parts = relative(CLIENT, file).split(sep);
  return parts.length === 1 ? "<root>" : parts[0]!;
}

function productionFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "e2e" && name !== "node_modules") out.push(...productionFiles(path));
    } else if (/\.tsx?$/.test(name) && !/\.test(-support)?\.tsx?$/.test(name) && !name.endsWith(".d.ts")) {
      out.push(path);
    }
  }
  return out;
}

/** Relative import specifiers of a module: static, re-exports and dynamic `import()`. */
export function importsOf(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) specs.push(m[1]!);
  return specs;
}

/** Every upward (or sideways) import as "file → target folder". */
export function violations(files: string[]): string[] {
  const bad: string[] = [];
  for (const file of files) {
    const from = folderOf(file);
    const fromRung = rungOf(from);
    if (fromRung < 0) {
      bad.push(`${relative(CLIENT, file)}: folder "${from}" is not declared in LAYERS`);
      continue;
    }
    for (const spec of importsOf(readFileSync(file, "utf8"))) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(CLIENT + sep)) continue; // gen/ and the like sit below every layer
      const to = folderOf(target);
      if (to === from) continue;
      const toRung = rungOf(to);
      if (toRung < 0 || toRung >= fromRung) bad.push(`${relative(CLIENT, file)} imports ${spec} (${from} → ${to})`);
    }
  }
  return bad;
}

describe("client layering", () => {
  it("no client module imports from its own rung or a layer above it", () => {
    const files = productionFiles(CLIENT);
    expect(files.length).toBeGreaterThan(50);
    expect(violations(files)).toEqual([]);
  });

  it("the check sees an upward import (store → app) and a sideways one (file-store → idb-store)", () => {
    const probe = (folder: string, text: string) => {
      const importsSeen = importsOf(text);
      const file = join(CLIENT, folder, "probe.ts");
      const from = rungOf(folderOf(file));
      return importsSeen.filter((s) => {
        const to = folderOf(resolve(dirname(file), s));
        return to !== folder && rungOf(to) >= from;
      });
    };
    expect(probe("store", 'import type { X } from "../app/client-runtime.js";')).toEqual(["../app/client-runtime.js"]);
    expect(probe("file-store", 'const m = await import("../idb-store/x.js");')).toEqual(["../idb-store/x.js"]);
    expect(probe("room", 'import { a } from "../relay/relay-clients.js";\nexport { b } from "../store/kv-store.js";')).toEqual([]);
  });
});
