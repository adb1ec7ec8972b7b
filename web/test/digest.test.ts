import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { digestOf, encode, sha256Of } from "../src/digest.js";
import { Hasher } from "../src/hasher.js";

const data = new Uint8Array(9 * 1024 * 1024 + 123).map((_, i) => (i * 31) % 251);
const node = (encoding: "hex" | "base64"): string => createHash("sha256").update(data).digest(encoding);

test("a blob larger than one slice hashes to node's SHA-256, hex and base64 as S3 spells it", async () => {
  assert.equal(await digestOf(new Blob([data]), "hex"), node("hex"));
  assert.equal(await digestOf(new Blob([data]), "base64"), node("base64"));
  assert.equal(await digestOf(new Blob([]), "hex"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("the native one-call digest and the sliced library digest agree with node's", async () => {
  const blob = new Blob([data]);
  const native = encode(await sha256Of(blob), "hex"); // part-sized: WebCrypto in one call
  const sliced = encode(await sha256Of(blob, 1024), "hex"); // above the limit: @noble/hashes
  assert.equal(native, node("hex"));
  assert.equal(sliced, node("hex"));
});

test("without workers the hasher hashes in place, in the order asked", async () => {
  const hasher = new Hasher(null, 2);
  const parts = [data.subarray(0, 1000), data.subarray(1000, 5000), data.subarray(5000)];
  const digests = await Promise.all(parts.map((part) => hasher.digest(new Blob([part]), "base64")));
  assert.deepEqual(
    digests,
    parts.map((part) => createHash("sha256").update(part).digest("base64")),
  );
});
