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
    assert.match((await urls.url(part)).url, new RegExp(`/part/${part}\\?`));
    await settle();
  }

  assert.ok(calls.length <= 4, `signed ${calls.length} times for 10 parts`);
  assert.deepEqual(calls.flat().sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test("a URL close to expiring is signed again before it is handed out", async () => {
  const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
  const { sign, calls } = signer(clock, 15 * MINUTE);
  const urls = new PartUrls(sign, 3, { batch: 3, renewBeforeMs: MINUTE }, () => clock.now);
  const first = (await urls.url(2)).url;

  clock.now += 14 * MINUTE + 1; // 59.999 s left: inside the renewal margin
  const again = (await urls.url(2)).url;

  assert.notEqual(again, first);
  assert.deepEqual(calls[calls.length - 1]?.[0], 2);
});

test("a URL with time to spare is reused for a retry of the same part", async () => {
  const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
  const { sign, calls } = signer(clock, 15 * MINUTE);
  const urls = new PartUrls(sign, 2, { batch: 2, renewBeforeMs: MINUTE }, () => clock.now);

  assert.equal((await urls.url(1)).url, (await urls.url(1)).url);
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
  assert.equal((await urls.url(1)).url, "u1");
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

/** A signer that records each call with its checksums and returns the checksum header signed. */
function checksumSigner() {
  const calls: { numbers: number[]; checksums: string[] | null }[] = [];
  const sign = async (numbers: readonly number[], checksums: readonly string[] | null): Promise<SignedUrl[]> => {
    calls.push({ numbers: [...numbers], checksums: checksums === null ? null : [...checksums] });
    return numbers.map((n, index) => ({
      part_number: n,
      url: `https://s3.test/part/${n}?call=${calls.length}`,
      expires_at: "2999-01-01T00:00:00Z",
      headers: { "x-amz-checksum-crc32c": checksums?.[index] ?? "" },
    }));
  };
  return { sign, calls };
}

/** Part hashes that finish only when released, so a test sees what waits on what. */
function heldHashes() {
  const asked: number[] = [];
  const release = new Map<number, (checksum: string) => void>();
  const hashPart = (n: number): Promise<string> => {
    asked.push(n);
    return new Promise((done) => release.set(n, done));
  };
  return { asked, release, hashPart };
}

test("with checksums, a part is signed with its checksum and handed out with the signed header", async () => {
  const { sign, calls } = checksumSigner();
  const hashes = new Map([[1, "AAAAAQ=="], [2, "AAAAAg=="]]);
  const urls = new PartUrls(sign, 2, { batch: 2, renewBeforeMs: MINUTE }, Date.now, async (n) => hashes.get(n) ?? "");

  const first = await urls.url(1);
  await settle();
  const second = await urls.url(2);

  assert.deepEqual(first.headers, { "x-amz-checksum-crc32c": "AAAAAQ==" });
  assert.deepEqual(second.headers, { "x-amz-checksum-crc32c": "AAAAAg==" });
  const signed = new Map(calls.flatMap((call) => call.numbers.map((n, i) => [n, call.checksums?.[i]])));
  assert.deepEqual([...signed.entries()].sort(), [[1, "AAAAAQ=="], [2, "AAAAAg=="]]);
});

test("the first part waits for its own hash only; the hash-ahead covers one batch, not the file", async () => {
  const { sign, calls } = checksumSigner();
  const { asked, release, hashPart } = heldHashes();
  const urls = new PartUrls(sign, 50, { batch: 4, renewBeforeMs: MINUTE }, Date.now, hashPart);

  const first = urls.url(1);
  await settle();
  assert.deepEqual(asked, [1, 2, 3, 4]); // one batch's parts hashing, in order
  release.get(1)?.("one");
  await first;

  assert.deepEqual(calls[0], { numbers: [1], checksums: ["one"] }); // parts 2-4 not hashed yet
  assert.ok(Math.max(...asked) <= 5, `hashed ahead to part ${Math.max(...asked)} of 50`);
});

test("parts hashed by the time of a signing join its batch", async () => {
  const { sign, calls } = checksumSigner();
  const { release, hashPart } = heldHashes();
  const urls = new PartUrls(sign, 4, { batch: 4, renewBeforeMs: MINUTE }, Date.now, hashPart);

  const first = urls.url(1);
  await settle();
  release.get(2)?.("two");
  release.get(3)?.("three");
  await settle();
  release.get(1)?.("one");
  await first;

  assert.deepEqual(calls[0], { numbers: [1, 2, 3], checksums: ["one", "two", "three"] });
});

test("a part asked for again is read, hashed and signed anew (S3 refused its bytes)", async () => {
  const { sign, calls } = checksumSigner();
  const reads: number[] = [];
  let version = 0;
  const hashPart = async (n: number): Promise<string> => {
    reads.push(n);
    version += 1;
    return `part${n}-read${version}`;
  };
  const urls = new PartUrls(sign, 3, { batch: 1, renewBeforeMs: MINUTE }, Date.now, hashPart);

  const sent = await urls.url(2);
  const retried = await urls.url(2);

  assert.equal(reads.filter((n) => n === 2).length, 2);
  assert.notEqual(retried.url, sent.url);
  assert.notEqual(retried.headers["x-amz-checksum-crc32c"], sent.headers["x-amz-checksum-crc32c"]);
  assert.deepEqual(calls.at(-1), { numbers: [2], checksums: [retried.headers["x-amz-checksum-crc32c"]] });
});

test("a URL signed for a part's old bytes while it was retried is not handed out", async () => {
  const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
  let hold: Promise<void> | null = null;
  const sign = async (numbers: readonly number[], checksums: readonly string[] | null): Promise<SignedUrl[]> => {
    if (hold !== null) await hold;
    return numbers.map((n, index) => ({
      part_number: n,
      url: `u${n}-${checksums?.[index]}`,
      expires_at: new Date(clock.now + 15 * MINUTE).toISOString(),
      headers: { "x-amz-checksum-crc32c": checksums?.[index] ?? "" },
    }));
  };
  let version = 0;
  const urls = new PartUrls(sign, 2, { batch: 2, renewBeforeMs: MINUTE }, () => clock.now, async () => `v${(version += 1)}`);
  assert.equal((await urls.url(1)).url, "u1-v1"); // parts 1 and 2 hashed (v1, v2) and signed
  assert.equal((await urls.url(2)).url, "u2-v2");

  clock.now += 14 * MINUTE + 1; // both URLs due for renewal
  let release = (): void => {};
  hold = new Promise((done) => (release = done));
  const renewed = urls.url(1); // part 1 read anew (v3); part 2 renewed with its kept v2, held
  await settle();
  const retried = urls.url(2); // part 2 retried while the call signing its v2 is out
  await settle();
  hold = null;
  release();

  assert.equal((await renewed).url, "u1-v3");
  assert.equal((await retried).url, "u2-v4");
});

test("with checksums, warming hashes and signs nothing", async () => {
  const { sign, calls } = checksumSigner();
  const { asked, hashPart } = heldHashes();
  const urls = new PartUrls(sign, 8, { batch: 4, renewBeforeMs: MINUTE }, Date.now, hashPart);

  urls.warm();
  await settle();

  assert.deepEqual(asked, []);
  assert.deepEqual(calls, []);
});
