/**
 * Keeps the specification's requirement ids honest (spec/README.md, "Requirement ids").
 *
 * Owns: the checks that every id is defined once, that `spec/requirements.md` has exactly one
 * row per defined id, that every id cited anywhere in the code, tests, schemas or spec is
 * defined, and that the files the table names exist. Does not own: whether a citation means
 * what the spec says; reviewers check that.
 */

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const SPEC = join(ROOT, "spec");
const PREFIXES = ["OV", "TM", "EN", "ID", "PX", "DR", "PQ", "SK", "SS", "RM", "API", "SC"];
const PREFIX = `(?:${PREFIXES.join("|")})`;
/** A definition is a bold heading `**PX-08 Title.**` in a numbered spec chapter. */
const DEFINITION = new RegExp(`\\*\\*(${PREFIX}-\\d{2})\\s+[^*]+\\*\\*`, "g");
/** A citation is an id, optionally a range `API-10..API-16` or `API-10..16`. */
const CITATION = new RegExp(`\\b(${PREFIX})-(\\d{2})(?:\\.\\.(?:${PREFIX}-)?(\\d{2}))?\\b`, "g");
/** Folders whose sources may cite ids. */
const CITING_ROOTS = ["proto", "client", "relay", "web", "spec", "bench", "scripts", "examples"];
const SOURCE_FILE = /\.(ts|tsx|mts|js|mjs|proto|md|py|sh|css|html)$/;
const SKIPPED_DIRS = new Set(["node_modules", "dist", "data", "test-results", "__pycache__", "generated"]);

function chapterFiles(): string[] {
  return readdirSync(SPEC)
    .filter((name) => /^\d{2}-.*\.md$/.test(name))
    .sort()
    .map((name) => join(SPEC, name));
}

function definedIds(): { ids: string[]; duplicates: string[] } {
  const ids: string[] = [];
  const duplicates: string[] = [];
  for (const file of chapterFiles()) {
    for (const match of readFileSync(file, "utf8").matchAll(DEFINITION)) {
      const id = match[1]!;
      if (ids.includes(id)) duplicates.push(id);
      else ids.push(id);
    }
  }
  return { ids, duplicates };
}

function* sourceFiles(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (SKIPPED_DIRS.has(name) || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (SOURCE_FILE.test(name)) yield path;
  }
}

function citedIds(): Map<string, string> {
  const cited = new Map<string, string>();
  for (const root of CITING_ROOTS) {
    for (const file of sourceFiles(join(ROOT, root))) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(CITATION)) {
        const prefix = match[1]!;
        const first = Number(match[2]);
        const last = match[3] === undefined ? first : Number(match[3]);
        for (let n = first; n <= last; n++) {
          const id = `${prefix}-${String(n).padStart(2, "0")}`;
          if (!cited.has(id)) cited.set(id, relative(ROOT, file));
        }
      }
    }
  }
  return cited;
}

/** Chapter order of the prefixes, then the number. */
function byIdOrder(a: string, b: string): number {
  const [pa = "", na = ""] = a.split("-");
  const [pb = "", nb = ""] = b.split("-");
  return PREFIXES.indexOf(pa) - PREFIXES.indexOf(pb) || Number(na) - Number(nb);
}

interface TableRow {
  id: string;
  implementedIn: string;
  testedBy: string;
}

function requirementRows(): TableRow[] {
  const rows: TableRow[] = [];
  for (const line of readFileSync(join(SPEC, "requirements.md"), "utf8").split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    // A row looks like: | PX-08 | [title](file) | implemented | tested |
    if (cells.length < 6 || !new RegExp(`^${PREFIX}-\\d{2}$`).test(cells[1]!)) continue;
    rows.push({ id: cells[1]!, implementedIn: cells[3]!, testedBy: cells[4]! });
  }
  return rows;
}

describe("specification requirement ids", () => {
  it("defines every id exactly once", () => {
    const { ids, duplicates } = definedIds();
    expect(ids.length).toBeGreaterThan(100);
    expect(duplicates).toEqual([]);
  });

  it("lists every defined id exactly once in requirements.md, in id order", () => {
    const { ids } = definedIds();
    expect(requirementRows().map((row) => row.id)).toEqual([...ids].sort(byIdOrder));
  });

  it("defines every id that code, tests, schemas or the spec cite", () => {
    const { ids } = definedIds();
    const undefinedCitations = [...citedIds()]
      .filter(([id]) => !ids.includes(id))
      .map(([id, file]) => `${id} (first cited in ${file})`);
    expect(undefinedCitations).toEqual([]);
  });

  it("names only files that exist in the implemented-in and tested-by columns", () => {
    const missing: string[] = [];
    for (const row of requirementRows()) {
      for (const cell of [row.implementedIn, row.testedBy]) {
        for (const match of cell.matchAll(/`([^`\s]+\.[a-z]+)`/g)) {
          if (!existsSync(join(ROOT, match[1]!))) missing.push(`${row.id}: ${match[1]}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
