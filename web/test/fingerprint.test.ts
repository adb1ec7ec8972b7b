import assert from "node:assert/strict";
import { test } from "node:test";

import { fingerprintOf, mismatch } from "../src/fingerprint.js";

const MiB = 1024 * 1024;

function file(name: string, bytes: Uint8Array<ArrayBuffer>, lastModified = 1000): File {
  return new File([bytes], name, { type: "video/mp4", lastModified });
}

function filled(size: number, value: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(size).fill(value);
}

test("the same file gives the same fingerprint", async () => {
  const bytes = filled(3 * MiB, 7);
  const stored = await fingerprintOf(file("a.mp4", bytes));
  assert.equal(mismatch(stored, await fingerprintOf(file("a.mp4", bytes))), null);
  assert.equal(stored.head.length, 64);
});

test("another file of the same name and size is told apart by its first or last MiB", async () => {
  const bytes = filled(3 * MiB, 7);
  const stored = await fingerprintOf(file("a.mp4", bytes));
  const changedTail = bytes.slice();
  changedTail[changedTail.length - 1] = 8;
  assert.equal(mismatch(stored, await fingerprintOf(file("a.mp4", changedTail))), "content differs");
});

test("size, name and modification time are checked", async () => {
  const stored = await fingerprintOf(file("a.mp4", filled(2 * MiB, 1)));
  assert.match(mismatch(stored, await fingerprintOf(file("a.mp4", filled(MiB, 1)))) ?? "", /size differs/);
  assert.match(mismatch(stored, await fingerprintOf(file("b.mp4", filled(2 * MiB, 1)))) ?? "", /name differs/);
  assert.match(
    mismatch(stored, await fingerprintOf(file("a.mp4", filled(2 * MiB, 1), 2000))) ?? "",
    /modification time/,
  );
});
