import assert from "node:assert/strict";
import { test } from "node:test";

import Uppy from "@uppy/core";

import Intake from "../src/uppy/index.js";

const options = { endpoint: "http://127.0.0.1:8000", getToken: () => "token", brandId: "brand", workerUrl: null };

test("the Uppy plugin refuses SHA256: @uppy/aws-s3 completes without the parts' checksums it needs", () => {
  assert.throws(
    () => new Uppy().use(Intake, { ...options, checksumAlgorithm: "SHA256" as never }),
    (error: unknown) => error instanceof TypeError && /SHA256 is not for Uppy/.test(error.message),
  );
});

test("the Uppy plugin takes CRC32C, its default, or no checksums", () => {
  for (const chosen of [{ checksumAlgorithm: "CRC32C" as const }, { checksumAlgorithm: null }, {}]) {
    const uppy = new Uppy().use(Intake, { ...options, ...chosen });
    assert.ok(uppy.getPlugin("Intake"));
  }
});
