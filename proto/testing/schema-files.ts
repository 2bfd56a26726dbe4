// Test helper: finds every generated securecomm schema file and every message type in it, driven
// by the generated file descriptors themselves, so a message added to a .proto file is covered by
// the schema tests without anyone editing a list. It owns discovery only; what is checked about
// each message lives in the tests in proto/.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { DescFile, DescMessage } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";

/** The schema packages SecureComm owns (DESIGN.md §2), as folder names under proto/securecomm. */
export const SCHEMA_AREAS = ["relay", "storage", "wire"] as const;

/** One of the schema areas: relay RPCs, end-to-end wire formats, or client-side storage. */
export type SchemaArea = (typeof SCHEMA_AREAS)[number];

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Absolute path of the repository root (where proto/ and gen/ live). */
export function repositoryRoot(): string {
  return repoRoot;
}

/** One generated schema file: its descriptor and where its .proto source and _pb.ts live. */
export interface SchemaFile {
  /** The area (package `securecomm.<area>.v1`). */
  readonly area: SchemaArea;
  /** The generated file descriptor, e.g. `file_securecomm_wire_v1_content`. */
  readonly desc: DescFile;
  /** Path of the generated module relative to the repository root. */
  readonly generatedPath: string;
}

function isDescFile(value: unknown): value is DescFile {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "file" &&
    Array.isArray((value as { messages?: unknown }).messages)
  );
}

/**
 * Imports every generated module under gen/securecomm/<area>/v1 and returns the file descriptors
 * they export, in a stable order (by path).
 */
export async function loadSchemaFiles(area: SchemaArea): Promise<SchemaFile[]> {
  const dir = join(repoRoot, "gen", "securecomm", area, "v1");
  const names = readdirSync(dir)
    .filter((name) => name.endsWith("_pb.ts"))
    .sort();
  const files: SchemaFile[] = [];
  for (const name of names) {
    const module = (await import(pathToFileURL(join(dir, name)).href)) as Record<string, unknown>;
    const descs = Object.values(module).filter(isDescFile);
    for (const desc of descs) {
      files.push({ area, desc, generatedPath: `gen/securecomm/${area}/v1/${name}` });
    }
  }
  return files;
}

/** Every message type declared in a file, nested message types included (depth first). */
export function messagesOfFile(file: DescFile): DescMessage[] {
  const out: DescMessage[] = [];
  for (const type of nestedTypes(file)) {
    if (type.kind === "message") out.push(type);
  }
  return out;
}

/** Every message type of every generated file of an area. */
export async function loadMessages(area: SchemaArea): Promise<DescMessage[]> {
  const files = await loadSchemaFiles(area);
  return files.flatMap((file) => messagesOfFile(file.desc));
}

/** The .proto source files of an area, relative to proto/ (e.g. `securecomm/wire/v1/content.proto`). */
export function protoSourceFiles(area: SchemaArea): string[] {
  const dir = join(repoRoot, "proto", "securecomm", area, "v1");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".proto"))
    .sort()
    .map((name) => `securecomm/${area}/v1/${name}`);
}

/**
 * Counts the `message` declarations in a .proto source, nested ones included. A plain scan of
 * the text (comments stripped), independent of the generated code, so the two can be compared.
 */
export function countMessageDeclarations(protoPath: string): number {
  const text = readFileSync(join(repoRoot, "proto", protoPath), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "");
  return [...text.matchAll(/(^|[\s{};])message\s+[A-Za-z_][A-Za-z0-9_]*\s*\{/g)].length;
}
