import assert from "node:assert/strict";
import { test } from "node:test";

import { overall, Progress } from "../src/progress.js";

test("bytes shown never go back when a part is retried", () => {
  const progress = new Progress(100, 0);
  progress.update(1, 40);
  assert.equal(progress.bytes, 40);
  progress.reset(1);
  assert.equal(progress.bytes, 40);
  progress.update(1, 10);
  assert.equal(progress.bytes, 40);
  progress.update(1, 50);
  assert.equal(progress.bytes, 50);
  progress.done(1, 50);
  assert.equal(progress.bytes, 50);
});

test("resumed bytes count at once and the total is never exceeded", () => {
  const progress = new Progress(100, 0);
  progress.setConfirmed(60);
  progress.update(2, 70);
  assert.equal(progress.bytes, 100);
  progress.finish();
  assert.equal(progress.snapshot(1000).etaS, 0);
});

test("speed and ETA follow the bytes over time", () => {
  const progress = new Progress(1000, 0);
  assert.equal(progress.snapshot(0).etaS, null);
  progress.update(1, 100);
  const first = progress.snapshot(1000);
  assert.equal(first.speed, 100);
  assert.equal(first.etaS, 9);
});

test("overall progress sums files", () => {
  const total = overall([
    { bytes: 10, total: 100, speed: 5, etaS: 18 },
    { bytes: 90, total: 100, speed: 5, etaS: 2 },
  ]);
  assert.deepEqual(total, { bytes: 100, total: 200, speed: 10, etaS: 10 });
});
