/** The hashing worker: one job at a time, `{id, blob, encoding, algorithm}` in, `{id, digest}`
 * out. */

import { digestOf, type DigestAlgorithm, type DigestEncoding } from "./digest.js";

interface Job {
  readonly id: number;
  readonly blob: Blob;
  readonly encoding: DigestEncoding;
  readonly algorithm: DigestAlgorithm;
}

// Compiles the CRC32C WebAssembly while the worker waits for its first part.
void digestOf(new Blob([]), "base64", "CRC32C");

addEventListener("message", (event: MessageEvent<Job>) => {
  const { id, blob, encoding, algorithm } = event.data;
  digestOf(blob, encoding, algorithm).then(
    (digest) => postMessage({ id, digest }),
    (error: unknown) => postMessage({ id, error: String(error) }),
  );
});
