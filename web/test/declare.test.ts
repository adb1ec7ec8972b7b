import assert from "node:assert/strict";
import { test } from "node:test";

import { declaredChecksum } from "../src/declare.js";
import { digestOf } from "../src/digest.js";
import { Hasher } from "../src/hasher.js";
import { DIRECT_LIMIT } from "../src/plan.js";

const hasher = new Hasher(null, 1); // no Worker in node: hashes in place

test("a file sent in one PUT declares its whole checksum, base64 in the algorithm", async () => {
  const small = new Blob([new Uint8Array(1000).fill(7)]);
  assert.deepEqual(await declaredChecksum(small, small.size, "CRC32C", hasher), {
    checksum_algorithm: "CRC32C",
    checksum: await digestOf(small, "base64", "CRC32C"),
  });
  assert.deepEqual(await declaredChecksum(small, small.size, "SHA256", hasher), {
    checksum_algorithm: "SHA256",
    checksum: await digestOf(small, "base64", "SHA256"),
  });
});

test("a multipart file declares only the algorithm: its parts are hashed as they are sent", async () => {
  const large = new Blob([new Uint8Array(DIRECT_LIMIT)]);
  assert.deepEqual(await declaredChecksum(large, large.size, "CRC32C", hasher), { checksum_algorithm: "CRC32C" });
});

test("no algorithm declares nothing; no bytes declare only the algorithm", async () => {
  const small = new Blob([new Uint8Array(10)]);
  assert.deepEqual(await declaredChecksum(small, small.size, null, hasher), {});
  assert.deepEqual(await declaredChecksum(null, 10, "CRC32C", hasher), { checksum_algorithm: "CRC32C" });
});
