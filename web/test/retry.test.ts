import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay, classifyPut, expiresSoon, RetryBudget, retryAfterMs } from "../src/retry.js";

const policy = { attempts: 3, baseMs: 100, capMs: 1000 };
const answer = (status: number, body = "", etag: string | null = null, retryAfter: string | null = null) => ({
  status,
  body,
  etag,
  retryAfter,
});

test("full jitter stays within the doubling ceiling and the cap", () => {
  assert.equal(backoffDelay(policy, 1, () => 0.999), 99);
  assert.equal(backoffDelay(policy, 3, () => 0.5), 200);
  assert.equal(backoffDelay(policy, 10, () => 0.999), 999);
  assert.equal(backoffDelay(policy, 4, () => 0), 0);
});

test("Retry-After reads seconds and HTTP dates", () => {
  assert.equal(retryAfterMs("3"), 3000);
  assert.equal(retryAfterMs("Thu, 01 Jan 1970 00:00:10 GMT", 4000), 6000);
  assert.equal(retryAfterMs(null), null);
  assert.equal(retryAfterMs("soon"), null);
});

test("the budget runs out after its attempts and moving bytes gives it back", () => {
  const budget = new RetryBudget(policy);
  assert.equal(budget.spend(), true);
  assert.equal(budget.spend(), true);
  budget.reset();
  assert.equal(budget.spend(), true);
  assert.equal(budget.spend(), true);
  assert.equal(budget.spend(), false);
});

test("a stored part yields its ETag without quotes; a hidden ETag is a clear failure", () => {
  assert.deepEqual(classifyPut(answer(200, "", '"abc"')), { kind: "ok", etag: "abc" });
  assert.equal(classifyPut(answer(200)).kind, "fatal");
  assert.equal(classifyPut(answer(200), false).kind, "ok");
});

test("network errors, 5xx, 429 and 408 retry, honouring Retry-After", () => {
  assert.deepEqual(classifyPut(answer(0)), { kind: "retry", reason: "network error", waitMs: null });
  assert.equal(classifyPut(answer(500)).kind, "retry");
  assert.equal(classifyPut(answer(408)).kind, "retry");
  const throttled = classifyPut(answer(429, "", null, "2"));
  assert.equal(throttled.kind === "retry" && throttled.waitMs, 2000);
});

test("an expired URL is signed again; a bad signature fails; a lost upload asks /resume", () => {
  const expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
  assert.equal(classifyPut(answer(403, expired)).kind, "resign");
  const badSignature = "<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>";
  assert.equal(classifyPut(answer(403, badSignature)).kind, "fatal");
  assert.equal(classifyPut(answer(404, "<Error><Code>NoSuchUpload</Code></Error>")).kind, "resume");
  assert.equal(classifyPut(answer(403, "<Error><Code>AccessDenied</Code></Error>")).kind, "fatal");
});

test("a URL within the margin of its expiry counts as expired", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(expiresSoon("2026-01-01T00:00:30Z", 60_000, now), true);
  assert.equal(expiresSoon("2026-01-01T00:05:00Z", 60_000, now), false);
  assert.equal(expiresSoon("garbage", 60_000, now), true);
});

test("bytes that miss their signed checksum are read and sent again; other 400s are fatal", () => {
  const bad = (code: string): string => `<Error><Code>${code}</Code><Message>checksum</Message></Error>`;
  assert.equal(classifyPut(answer(400, bad("BadDigest"))).kind, "digest");
  assert.equal(classifyPut(answer(400, bad("XAmzContentChecksumMismatch"))).kind, "digest");
  assert.equal(classifyPut(answer(400, bad("InvalidRequest"))).kind, "fatal");
  assert.equal(classifyPut(answer(403, bad("BadDigest"))).kind, "fatal");
});
