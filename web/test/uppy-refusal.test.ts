import assert from "node:assert/strict";
import { test } from "node:test";

import { refusedForDigest } from "../src/uppy/refusal.js";

/** Shaped as `@uppy/aws-s3`'s S3ServiceError: message, status, serviceCode, body. */
function s3ServiceError(status: number, serviceCode: string | undefined, body: string): Error {
  return Object.assign(new Error(`S3 returned ${status}`), { status, serviceCode, body });
}

const xml = (code: string): string => `<?xml version="1.0"?><Error><Code>${code}</Code><Message>m</Message></Error>`;

test("a 400 BadDigest or XAmzContentChecksumMismatch is a refused digest, from its body or its code", () => {
  assert.equal(refusedForDigest(s3ServiceError(400, undefined, xml("BadDigest"))), true);
  assert.equal(refusedForDigest(s3ServiceError(400, undefined, xml("XAmzContentChecksumMismatch"))), true);
  assert.equal(refusedForDigest(s3ServiceError(400, "BadDigest", "")), true);
});

test("other refusals and errors are not", () => {
  assert.equal(refusedForDigest(s3ServiceError(403, undefined, xml("SignatureDoesNotMatch"))), false);
  assert.equal(refusedForDigest(s3ServiceError(400, undefined, xml("InvalidArgument"))), false);
  assert.equal(refusedForDigest(s3ServiceError(500, "BadDigest", "")), false);
  assert.equal(refusedForDigest(new Error("network")), false);
  assert.equal(refusedForDigest("BadDigest"), false);
  assert.equal(refusedForDigest(null), false);
});
