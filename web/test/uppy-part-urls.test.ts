import assert from "node:assert/strict";
import { test } from "node:test";

import { PartUrls, type SignedUrl } from "../src/uppy/part-urls.js";

const MINUTE = 60_000;

/** A signer that records each call and signs URLs valid for `ttlMs` from the clock's now. */
function signer(clock: { now: number }, ttlMs: number) {
  const calls: number[][] = [];
  let generation = 0;
  const sign = async (numbers: readonly number[]): Promise<SignedUrl[]> => {
    calls.push([...numbers]);
    generation += 1;
    return numbers.map((n) => ({
      part_number: n,
      url: `https://s3.test/part/${n}?g=${generation}`,
      expires_at: new Date(clock.now + ttlMs).toISOString(),
    }));
  };
  return { sign, calls };
}

const settle = () => new Promise((done) => setImmediate(done));

test("parts asked one at a time are signed in batches", async () => {
  const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
  const { sign, calls } = signer(clock, 15 * MINUTE);
  const urls = new PartUrls(sign, 10, { batch: 4, renewBeforeMs: MINUTE }, () => clock.now);

  for (let part = 1; part <= 10; part += 1) {
    assert.match(await urls.url(part), new RegExp(`/part/${part}\\?`));
    await settle();
  }

  assert.ok(calls.length <= 4, `signed ${calls.length} times for 10 parts`);
  assert.deepEqual(calls.flat().sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test("a URL close to expiring is signed again before it is handed out", async () => {
  const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
  const { sign, calls } = signer(clock, 15 * MINUTE);
  const urls = new PartUrls(sign, 3, { batch: 3, renewBeforeMs: MINUTE }, () => clock.now);
  const first = await urls.url(2);

  clock.now += 14 * MINUTE + 1; // 59.999 s left: inside the renewal margin
  const again = await urls.url(2);

  assert.notEqual(again, first);
  assert.deepEqual(calls[calls.length - 1]?.[0], 2);
});

test("a URL with time to spare is reused for a retry of the same part", async () => {
  const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
  const { sign, calls } = signer(clock, 15 * MINUTE);
  const urls = new PartUrls(sign, 2, { batch: 2, renewBeforeMs: MINUTE }, () => clock.now);

  assert.equal(await urls.url(1), await urls.url(1));
  assert.equal(calls.length, 1);
});

test("part numbers outside the upload are refused without signing", async () => {
  const clock = { now: 0 };
  const { sign, calls } = signer(clock, MINUTE * 15);
  const urls = new PartUrls(sign, 5, { batch: 5, renewBeforeMs: MINUTE }, () => clock.now);

  await assert.rejects(urls.url(6), RangeError);
  await assert.rejects(urls.url(0), RangeError);
  assert.equal(calls.length, 0);
});

test("a failed signing call fails the part that needed it, and the next ask tries again", async () => {
  let fail = true;
  const urls = new PartUrls(
    async (numbers) => {
      if (fail) throw new Error("gateway down");
      return numbers.map((n) => ({ part_number: n, url: `u${n}`, expires_at: "2999-01-01T00:00:00Z" }));
    },
    2,
    { batch: 2, renewBeforeMs: MINUTE },
  );

  await assert.rejects(urls.url(1), /gateway down/);
  fail = false;
  assert.equal(await urls.url(1), "u1");
});

test("warming signs the first batch once, and the first part then needs no call", async () => {
  const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
  const { sign, calls } = signer(clock, 15 * MINUTE);
  const urls = new PartUrls(sign, 8, { batch: 4, renewBeforeMs: MINUTE }, () => clock.now);

  urls.warm();
  urls.warm();
  await urls.url(1);

  assert.deepEqual(calls, [[1, 2, 3, 4]]);
});
