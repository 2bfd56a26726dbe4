/**
 * Builds `spec/requirements.md` from the specification and the code (spec/README.md,
 * "Requirement ids").
 *
 * Owns: reading the ids the spec defines (bold `**PX-08 Title.**` headings), finding which
 * source files and which test files cite each id, and rendering the table. The "implemented
 * in" column lists the product files (code and schemas) that cite an id; "tested by" lists the
 * test files that cite it, normally in a test name. Does not own: whether a citation is
 * apt; reviewers check that.
 *
 * Run `npm run spec:requirements` to rewrite the table; `spec/spec-ids.test.ts` fails when it
 * is stale, so the table cannot drift from the code.
 */

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..");
const SPEC = join(ROOT, "spec");
const TABLE = join(SPEC, "requirements.md");

/** Id prefixes in chapter order. */
export const PREFIXES = ["OV", "TM", "EN", "ID", "PX", "DR", "PQ", "SK", "SS", "RM", "API", "SC", "DL"];
const PREFIX = `(?:${PREFIXES.join("|")})`;
const DEFINITION = new RegExp(`\\*\\*(${PREFIX}-\\d{2})\\s+([^*]+?)\\.?\\*\\*`, "g");
/** An id, optionally a range `API-10..API-16` or `API-10..16`. */
const CITATION = new RegExp(`\\b(${PREFIX})-(\\d{2})(?:\\.\\.(?:${PREFIX}-)?(\\d{2}))?\\b`, "g");
/** Folders whose files may cite ids. */
const CITING_ROOTS = ["proto", "client", "relay", "web", "spec", "bench", "scripts", "examples"];
/** Folders whose non-test files count as implementations. */
const PRODUCT_ROOTS = ["proto", "client", "relay", "web", "examples"];
const SOURCE_FILE = /\.(ts|tsx|mts|js|mjs|proto|md|py|sh|css|html)$/;
/** Tests and their support files (`*.test.ts`, `*.test-support.ts`, `testing/` and `e2e/` folders). */
const TEST_FILE = /(\.test\.tsx?|\.test-support\.tsx?)$|(^|\/)(testing|e2e)\//;

/** A requirement defined in a spec chapter. */
export interface Requirement {
  id: string;
  title: string;
  chapter: string;
}

/** Chapter order of the prefixes, then the number. */
export function byIdOrder(a: string, b: string): number {
  const [pa = "", na = ""] = a.split("-");
  const [pb = "", nb = ""] = b.split("-");
  return PREFIXES.indexOf(pa) - PREFIXES.indexOf(pb) || Number(na) - Number(nb);
}

/** Every requirement the numbered chapters define, in chapter order, and any defined twice. */
export function definedRequirements(): { requirements: Requirement[]; duplicates: string[] } {
  const requirements: Requirement[] = [];
  const duplicates: string[] = [];
  const chapters = readdirSync(SPEC).filter((name) => /^\d{2}-.*\.md$/.test(name)).sort();
  for (const chapter of chapters) {
    for (const match of readFileSync(join(SPEC, chapter), "utf8").matchAll(DEFINITION)) {
      const id = match[1]!;
      if (requirements.some((r) => r.id === id)) duplicates.push(id);
      else requirements.push({ id, title: match[2]!.trim(), chapter });
    }
  }
  return { requirements, duplicates };
}

/**
 * The files under `roots` git would commit: tracked files plus new files not yet added, never
 * git-ignored ones (generated code such as `examples/python/gen/` after the README's
 * `buf generate` example, build output, `node_modules`). Asking git rather than walking the
 * tree is what keeps the table the same on every checkout of one commit.
 */
export function sourceFiles(roots: readonly string[]): string[] {
  const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ...roots], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const seen = new Set<string>();
  for (const path of out.split("\0")) {
    if (path.length === 0 || !SOURCE_FILE.test(path)) continue;
    seen.add(path);
  }
  // A file deleted in the working tree but still in the index is not there to read.
  return [...seen].sort().filter((path) => {
    try {
      readFileSync(join(ROOT, path));
      return true;
    } catch {
      return false;
    }
  });
}

/** The ids a text cites, ranges expanded. */
export function idsCitedIn(text: string): Set<string> {
  const ids = new Set<string>();
  for (const match of text.matchAll(CITATION)) {
    const first = Number(match[2]);
    const last = match[3] === undefined ? first : Number(match[3]);
    for (let n = first; n <= last; n++) ids.add(`${match[1]}-${String(n).padStart(2, "0")}`);
  }
  return ids;
}

/** For each cited id, the repository-relative files citing it, split into product and test files. */
export function citations(): Map<string, { product: string[]; tests: string[]; any: string[] }> {
  const cited = new Map<string, { product: string[]; tests: string[]; any: string[] }>();
  const files = sourceFiles(CITING_ROOTS).map((path) => ({ path, root: path.slice(0, path.indexOf("/")) }));
  files.sort((a, b) => CITING_ROOTS.indexOf(a.root) - CITING_ROOTS.indexOf(b.root));
  for (const { path, root } of files) {
    const isTest = TEST_FILE.test(path);
    const isProduct = !isTest && PRODUCT_ROOTS.includes(root) && !path.endsWith(".md");
    for (const id of idsCitedIn(readFileSync(join(ROOT, path), "utf8"))) {
      const entry = cited.get(id) ?? { product: [], tests: [], any: [] };
      entry.any.push(path);
      if (isTest) entry.tests.push(path);
      else if (isProduct) entry.product.push(path);
      cited.set(id, entry);
    }
  }
  return cited;
}

function cell(files: readonly string[]): string {
  return files.length === 0 ? "—" : files.map((file) => `\`${file}\``).join(", ");
}

/** The whole of spec/requirements.md as it should be now. */
export function renderRequirementsTable(): string {
  const current = readFileSync(TABLE, "utf8");
  const head = current.slice(0, current.indexOf("| id |"));
  const cited = citations();
  const rows = definedRequirements()
    .requirements.sort((a, b) => byIdOrder(a.id, b.id))
    .map((r) => {
      const files = cited.get(r.id);
      return `| ${r.id} | [${r.title}](${r.chapter}) | ${cell(files?.product ?? [])} | ${cell(files?.tests ?? [])} |`;
    });
  return `${head}| id | requirement | implemented in | tested by |\n| --- | --- | --- | --- |\n${rows.join("\n")}\n`;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  writeFileSync(TABLE, renderRequirementsTable());
  console.log("spec/requirements.md rewritten");
}
