/** What `@uppy/aws-s3` reports when S3 refuses a PUT, read the way the UploadManager reads it. */

import { classifyPut } from "../retry.js";

/**
 * Whether `error` (an `upload-error` of `@uppy/aws-s3`: its S3ServiceError carries the status,
 * S3's error code when readable, and the XML body) is S3 refusing bytes that do not match the
 * checksum their URL signed (400 BadDigest): the bytes are to be read and sent again.
 */
export function refusedForDigest(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { status, body, serviceCode } = error as { status?: unknown; body?: unknown; serviceCode?: unknown };
  if (typeof status !== "number") return false;
  const text =
    typeof body === "string" && body !== ""
      ? body
      : typeof serviceCode === "string"
        ? `<Code>${serviceCode}</Code>`
        : "";
  return classifyPut({ status, body: text, etag: null, retryAfter: null }, false).kind === "digest";
}
