import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { crc32cOf, digestOf, encode, sha256Of } from "../src/digest.js";
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
  const sliced = encode(await sha256Of(blob, 1024), "hex"); // above the limit: hash-wasm
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

/** CRC32C bit by bit (Castagnoli, reflected 0x82F63B78): the reference, not the library. */
function referenceCrc32c(bytes: Uint8Array): string {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, "0");
}

test("CRC32C gives the standard's check value, big-endian as S3 spells it", async () => {
  const check = new TextEncoder().encode("123456789");
  assert.equal(referenceCrc32c(check), "e3069283"); // RFC 3720, B.4
  assert.equal(encode(await crc32cOf(new Blob([check])), "hex"), "e3069283");
  assert.equal(await digestOf(new Blob([check]), "base64", "CRC32C"), Buffer.from("e3069283", "hex").toString("base64"));
  assert.equal(encode(await crc32cOf(new Blob([])), "hex"), "00000000");
});

test("a streamed CRC32C over many chunks equals the reference over the whole", async () => {
  const some = data.subarray(0, 300_000);
  // Several Blob parts, so the stream hands the hash more than one chunk.
  const blob = new Blob([some.subarray(0, 70_001), some.subarray(70_001, 200_000), some.subarray(200_000)]);
  assert.equal(encode(await crc32cOf(blob), "hex"), referenceCrc32c(some));
});

test("hashes in place that interleave keep their own CRC32C", async () => {
  const hasher = new Hasher(null, 2);
  const parts = [data.subarray(0, 100_000), data.subarray(100_000, 150_000), data.subarray(150_000, 400_000)];
  const digests = await Promise.all(parts.map((part) => hasher.digest(new Blob([part]), "hex", "CRC32C")));
  assert.deepEqual(digests, parts.map(referenceCrc32c));
});
