/**
 * Keeps the specification's requirement ids honest (spec/README.md, "Requirement ids").
 *
 * Owns: the checks that every id is defined once, that every id cited anywhere in the code,
 * tests, schemas or spec is defined, and that `spec/requirements.md` is the table
 * `scripts/requirements-table.ts` builds from the code now (`npm run spec:requirements`).
 * Does not own: whether a citation means what the spec says; reviewers check that.
 */

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, citations, definedRequirements, idsCitedIn, renderRequirementsTable, sourceFiles } from "../scripts/requirements-table.js";

describe("specification requirement ids", () => {
  it("defines every id exactly once", () => {
    const { requirements, duplicates } = definedRequirements();
    expect(requirements.length).toBeGreaterThan(100);
    expect(duplicates).toEqual([]);
  });

  it("expands cited ranges", () => {
    expect([...idsCitedIn("see API-10..API-12 and RM-08, SS-01..02")]).toEqual([
      "API-10",
      "API-11",
      "API-12",
      "RM-08",
      "SS-01",
      "SS-02",
    ]);
  });

  it("defines every id that code, tests, schemas or the spec cite", () => {
    const defined = new Set(definedRequirements().requirements.map((r) => r.id));
    const undefinedCitations = [...citations()]
      .filter(([id]) => !defined.has(id))
      .map(([id, files]) => `${id} (cited in ${files.any.join(", ")})`);
    expect(undefinedCitations).toEqual([]);
  });

  it("has an up-to-date requirements table (run `npm run spec:requirements`)", () => {
    const onDisk = readFileSync(join(ROOT, "spec", "requirements.md"), "utf8");
    expect(onDisk).toBe(renderRequirementsTable());
  });

  it("reads only files git would commit, never git-ignored ones such as examples/python/gen/", () => {
    // What the README's `buf generate` example writes: git-ignored generated code that cites
    // an id no chapter defines. The table must not see it.
    const dir = join(ROOT, "examples", "python", "gen", "spec-ids-test");
    const file = join(dir, "ignored_pb2.py");
    mkdirSync(dir, { recursive: true });
    const unknownId = ["RM", "99"].join("-"); // spelled apart so this file does not cite it
    writeFileSync(file, `# generated; cites ${unknownId}\n`);
    try {
      expect(sourceFiles(["examples"])).not.toContain("examples/python/gen/spec-ids-test/ignored_pb2.py");
      expect(sourceFiles(["examples"])).toContain("examples/python/client.py");
      expect(citations().has(unknownId)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
