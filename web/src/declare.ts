/** What an initiation declares of a file's checksum, the same for every client of this package. */

import type { BatchFile, ChecksumAlgorithm } from "./api.js";
import type { DigestAlgorithm, DigestEncoding } from "./digest.js";
import { DIRECT_LIMIT } from "./plan.js";

/** Anything that hashes a Blob: the worker pool, or `digestOf` in place. */
export interface Digester {
  digest(blob: Blob, encoding: DigestEncoding, algorithm: DigestAlgorithm): Promise<string>;
}

/**
 * The declared algorithm, and for a file Intake sends in one PUT (below DIRECT_LIMIT) the whole
 * file's checksum, base64: that URL signs it. A multipart file's parts are hashed as they are
 * sent. Nothing is declared without an algorithm or, for a direct upload, without its bytes.
 */
export async function declaredChecksum(
  file: Blob | null,
  size: number,
  algorithm: ChecksumAlgorithm | null,
  hasher: Digester,
): Promise<Pick<BatchFile, "checksum_algorithm" | "checksum">> {
  if (algorithm === null) return {};
  if (size >= DIRECT_LIMIT || file === null) return { checksum_algorithm: algorithm };
  return { checksum_algorithm: algorithm, checksum: await hasher.digest(file, "base64", algorithm) };
}
