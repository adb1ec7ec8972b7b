import assert from "node:assert/strict";
import { test } from "node:test";

import { batches, doneBytes, missingParts, partRange } from "../src/plan.js";

const MiB = 1024 * 1024;

test("every part is chunk-sized except the last, which ends at the file's end", () => {
  assert.deepEqual(partRange(20 * MiB, 8 * MiB, 1), { partNumber: 1, start: 0, end: 8 * MiB });
  assert.deepEqual(partRange(20 * MiB, 8 * MiB, 3), { partNumber: 3, start: 16 * MiB, end: 20 * MiB });
});

test("a part beyond the file is refused", () => {
  assert.throws(() => partRange(16 * MiB, 8 * MiB, 3), RangeError);
  assert.throws(() => partRange(16 * MiB, 8 * MiB, 0), RangeError);
});

test("only the parts S3 lacks are left, in order", () => {
  assert.deepEqual(missingParts(5, new Set([1, 2, 4])), [3, 5]);
  assert.deepEqual(missingParts(3, new Set([1, 2, 3])), []);
});

test("part numbers are signed in groups of at most the batch size", () => {
  assert.deepEqual(batches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(batches([], 100), []);
  assert.throws(() => batches([1], 0), RangeError);
});

test("bytes already stored count the short last part exactly", () => {
  assert.equal(doneBytes(20 * MiB, 8 * MiB, [1, 3]), 12 * MiB);
});
