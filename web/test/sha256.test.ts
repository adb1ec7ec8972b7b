import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { Sha256, sha256OfBlob } from "../src/sha256.js";

const expected = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

test("known vectors, including the padding edge at 55 and 56 bytes", () => {
  assert.equal(new Sha256().hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    new Sha256().update(new TextEncoder().encode("abc")).hex(),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  for (const size of [55, 56, 63, 64, 65, 119, 120]) {
    const data = new Uint8Array(size).map((_, i) => i * 7);
    assert.equal(new Sha256().update(data).hex(), expected(data), `${size} bytes`);
  }
});

test("hashing in uneven pieces equals hashing at once", () => {
  const data = new Uint8Array(10_000).map((_, i) => (i * 31) % 251);
  const hash = new Sha256();
  for (let start = 0; start < data.length; start += 777) hash.update(data.subarray(start, start + 777));
  assert.equal(hash.hex(), expected(data));
});

test("a blob larger than one slice is hashed slice by slice", async () => {
  const data = new Uint8Array(9 * 1024 * 1024).map((_, i) => i % 253);
  assert.equal(await sha256OfBlob(new Blob([data])), expected(data));
});
