/** The hashing worker: one job at a time, `{id, blob, encoding}` in, `{id, digest}` out. */

import { digestOf, type DigestEncoding } from "./digest.js";

interface Job {
  readonly id: number;
  readonly blob: Blob;
  readonly encoding: DigestEncoding;
}

addEventListener("message", (event: MessageEvent<Job>) => {
  const { id, blob, encoding } = event.data;
  digestOf(blob, encoding).then(
    (digest) => postMessage({ id, digest }),
    (error: unknown) => postMessage({ id, error: String(error) }),
  );
});
