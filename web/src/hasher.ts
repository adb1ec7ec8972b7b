/** Digests computed off the page's thread by a small pool of workers, first asked first done. */

import { digestOf, type DigestAlgorithm, type DigestEncoding } from "./digest.js";

interface Pending {
  readonly id: number;
  readonly blob: Blob;
  readonly encoding: DigestEncoding;
  readonly algorithm: DigestAlgorithm;
  readonly resolve: (digest: string) => void;
  readonly reject: (error: unknown) => void;
}

interface Slot {
  readonly worker: Worker;
  job: Pending | null;
}

export class Hasher {
  private readonly queue: Pending[] = [];
  private readonly slots: Slot[] = [];
  private nextId = 0;
  /** Set once a worker cannot start (no Worker, blocked or missing script): hash in place. */
  private inPlace: boolean;

  constructor(
    private readonly workerUrl: string | URL | null,
    private readonly size: number,
  ) {
    this.inPlace = workerUrl === null || typeof Worker === "undefined";
  }

  /** The checksum of `blob`, base64 (S3's checksum headers) or hex (`checksum_sha256`). */
  digest(blob: Blob, encoding: DigestEncoding, algorithm: DigestAlgorithm = "SHA256"): Promise<string> {
    if (this.inPlace) return digestOf(blob, encoding, algorithm);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: (this.nextId += 1), blob, encoding, algorithm, resolve, reject });
      this.pump();
    });
  }

  /** Starts the workers now, so the first part's hash does not wait for a worker to load. */
  warm(): void {
    while (!this.inPlace && this.slots.length < this.size && this.spawn() !== null);
  }

  close(): void {
    for (const slot of this.slots) slot.worker.terminate();
    this.slots.length = 0;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((candidate) => candidate.job === null) ?? this.spawn();
      if (slot === null) return;
      const job = this.queue.shift() as Pending;
      slot.job = job;
      slot.worker.postMessage({ id: job.id, blob: job.blob, encoding: job.encoding, algorithm: job.algorithm });
    }
  }

  private spawn(): Slot | null {
    if (this.slots.length >= this.size || this.inPlace) return null;
    let worker: Worker;
    try {
      worker = new Worker(this.workerUrl as string | URL, { type: "module" });
    } catch {
      this.fallBack();
      return null;
    }
    const slot: Slot = { worker, job: null };
    worker.onmessage = (event: MessageEvent<{ id: number; digest?: string; error?: string }>) => {
      const job = slot.job;
      slot.job = null;
      if (event.data.digest !== undefined) job?.resolve(event.data.digest);
      else job?.reject(new Error(event.data.error ?? "hashing failed"));
      this.pump();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.fallBack();
    };
    this.slots.push(slot);
    return slot;
  }

  /** The worker script cannot run here: every waiting job is hashed on this thread instead. */
  private fallBack(): void {
    this.inPlace = true;
    const running = this.slots.flatMap((slot) => (slot.job ? [slot.job] : []));
    this.close();
    for (const job of [...running, ...this.queue.splice(0)]) digestOf(job.blob, job.encoding, job.algorithm).then(job.resolve, job.reject);
  }
}
