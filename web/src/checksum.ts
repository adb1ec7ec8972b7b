/** The file's SHA-256 computed in a worker, for `checksum_sha256` at initiation. */

export function sha256InWorker(file: Blob, workerUrl: string): Promise<string | null> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(workerUrl, { type: "module" });
    } catch {
      resolve(null); // no worker: the upload goes on without the optional checksum
      return;
    }
    worker.onmessage = (event: MessageEvent<{ hex?: string }>) => {
      worker.terminate();
      resolve(event.data.hex ?? null);
    };
    worker.onerror = () => {
      worker.terminate();
      resolve(null);
    };
    worker.postMessage(file);
  });
}
