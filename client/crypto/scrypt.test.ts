import { scryptAsync } from "@noble/hashes/scrypt.js";
import { describe, expect, it } from "vitest";
import { scryptKey } from "./scrypt.js";

describe("scryptKey", () => {
  it("matches RFC 7914's test vector and noble's implementation", async () => {
    // RFC 7914 §12, second vector: P = "password", S = "NaCl", N = 1024, r = 8, p = 16, dkLen = 64.
    const key = await scryptKey(new TextEncoder().encode("password"), new TextEncoder().encode("NaCl"), {
      N: 1024,
      r: 8,
      p: 16,
      dkLen: 64,
      maxmem: 64 * 1024 * 1024,
    });
    expect(Buffer.from(key).toString("hex")).toBe(
      "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162" +
        "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
    );
    const options = { N: 2 ** 12, r: 8, p: 1, dkLen: 32, maxmem: 64 * 1024 * 1024 };
    const salt = new Uint8Array(16).fill(7);
    const pw = new TextEncoder().encode("correct horse");
    expect(await scryptKey(pw, salt, options)).toEqual(await scryptAsync(pw, salt, options));
  });
});
