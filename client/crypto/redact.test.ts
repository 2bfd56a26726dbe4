import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { bytesToHex } from "./bytes.js";
import { KeyPair, PrivateKey } from "./curve.js";
import { KemKeyPair } from "./kem.js";

describe("secrets never print", () => {
  const ec = KeyPair.generate();
  const kem = KemKeyPair.generate();
  const cases: [string, object, Uint8Array][] = [
    ["PrivateKey", ec.privateKey, ec.privateKey.serialize()],
    ["KeyPair", ec, ec.privateKey.serialize()],
    ["KemSecretKey", kem.secretKey, kem.secretKey.serialize()],
    ["KemKeyPair", kem, kem.secretKey.serialize()],
  ];

  it.each(cases)("%s prints only its redacted tag", (name, obj, secret) => {
    const tag = `[${name}: redacted]`;
    const secretHex = bytesToHex(secret);
    const renderings = [
      String(obj),
      `${obj as PrivateKey}`,
      JSON.stringify(obj),
      JSON.stringify({ nested: obj }),
      inspect(obj),
      inspect({ nested: obj }, { depth: 10, showHidden: true }),
    ];
    expect(String(obj)).toBe(tag);
    expect(JSON.stringify(obj)).toBe(JSON.stringify(tag));
    expect(inspect(obj)).toBe(tag);
    for (const r of renderings) {
      expect(r).toContain("redacted");
      expect(r).not.toContain(secretHex.slice(0, 16));
      expect(r).not.toMatch(/\b\d{1,3}(, \d{1,3}){8,}/); // no byte-array dump
    }
    expect(Object.keys(obj).every((k) => !(obj as Record<string, unknown>)[k]?.toString().includes(secretHex.slice(0, 16)))).toBe(true);
  });
});
