/** A worker that hashes one file off the page's thread: message in = Blob, out = hex digest. */

import { sha256OfBlob } from "./sha256.js";

addEventListener("message", (event: MessageEvent<Blob>) => {
  sha256OfBlob(event.data).then(
    (hex) => postMessage({ hex }),
    (error: unknown) => postMessage({ error: String(error) }),
  );
});
