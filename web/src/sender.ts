/** Sends one upload's bytes: parts under the per-file and global caps, or one direct PUT. */

import type { IntakeApi, SignedPart } from "./api.js";
import type { Hasher } from "./hasher.js";
import { missingParts, partRange } from "./plan.js";
import { classifyPut, expiresSoon, type PutAnswer } from "./retry.js";
import { type Gate, type Semaphore, sleep } from "./sync.js";
import { putBytes } from "./transfer.js";
import { Stopped, type Upload } from "./upload.js";

const MAX_RESIGNS = 5;
/** Times one part (or a direct file) is read and sent again after S3 found its bytes wrong. */
const MAX_DIGEST_RETRIES = 3;

export interface SendSettings {
  readonly partsPerFile: number;
  readonly signBatch: number;
  readonly stallMs: number;
  readonly urlMarginMs: number;
}

/** What the sender needs from the manager around it. */
export interface SendHooks {
  /** Ask /resume where the session is; false when it needs no more bytes. */
  resync(upload: Upload): Promise<boolean>;
  /** A part was stored: keep the progress for a reload. */
  saved(upload: Upload): void;
  changed(): void;
  /** Aborts when the page goes offline. */
  offlineSignal(): AbortSignal;
}

export class Sender {
  constructor(
    private readonly api: IntakeApi,
    private readonly settings: SendSettings,
    private readonly slots: Semaphore,
    private readonly network: Gate,
    private readonly hooks: SendHooks,
    private readonly hasher: Hasher,
  ) {}

  /** Every byte S3 still lacks; returns once all are stored (or throws why not). */
  send(upload: Upload): Promise<void> {
    return upload.uploadType === "direct" ? this.sendDirect(upload) : this.sendParts(upload);
  }

  private async sendParts(upload: Upload): Promise<void> {
    upload.queue = missingParts(upload.partCount, new Set(upload.done.keys()));
    const worker = async (): Promise<void> => {
      for (let next = upload.queue.shift(); next !== undefined; next = upload.queue.shift()) {
        this.hashAhead(upload, next);
        await this.sendPart(upload, next);
      }
    };
    const workers = Math.min(this.settings.partsPerFile, upload.queue.length);
    try {
      await Promise.all(Array.from({ length: workers }, worker));
    } catch (error) {
      upload.controller.abort(); // the other workers of this file stop too
      throw error;
    }
    const missing = missingParts(upload.partCount, new Set(upload.done.keys()));
    if (missing.length > 0) await this.sendParts(upload); // a resync found parts S3 lost
  }

  private async sendPart(upload: Upload, partNumber: number): Promise<void> {
    const range = partRange(upload.size, upload.chunkSize, partNumber);
    let resigns = 0;
    let digestRetries = 0;
    for (;;) {
      const signed = await this.partUrl(upload, partNumber);
      this.signAhead(upload);
      const body = (upload.file as Blob).slice(range.start, range.end);
      const answer = await this.put(upload, partNumber, signed.url, body, signed.headers);
      if (answer === null) continue; // paused by going offline; sent again once online
      const outcome = classifyPut(answer);
      if (outcome.kind === "ok") {
        upload.done.set(partNumber, outcome.etag);
        upload.progress.done(partNumber, range.end - range.start);
        this.hooks.saved(upload);
        this.hooks.changed();
        return;
      }
      upload.progress.reset(partNumber);
      if (outcome.kind === "digest") {
        // The bytes S3 got are not the bytes hashed: read the part anew, sign its new checksum.
        if ((digestRetries += 1) > MAX_DIGEST_RETRIES) throw new Error(outcome.reason);
        upload.urls.delete(partNumber);
        upload.checksums.delete(partNumber);
        upload.checksummed.delete(partNumber);
        this.checksumOf(upload, partNumber);
      } else if (outcome.kind === "resign") {
        upload.urls.delete(partNumber);
        if ((resigns += 1) > MAX_RESIGNS) throw new Error(`${outcome.reason}, again after signing anew`);
      } else if (outcome.kind === "resume") {
        if (!(await this.hooks.resync(upload))) throw new Stopped("over");
        if (upload.done.has(partNumber)) return;
      } else if (outcome.kind === "fatal") {
        throw new Error(outcome.reason);
      } else {
        await this.backOff(upload, outcome.reason, outcome.waitMs);
      }
    }
  }

  private async sendDirect(upload: Upload): Promise<void> {
    let resigns = 0;
    let digestRetries = 0;
    for (;;) {
      if (upload.direct === null || expiresSoon(upload.direct.expires_at, this.settings.urlMarginMs)) {
        if (!(await this.hooks.resync(upload))) throw new Stopped("over");
      }
      const target = upload.direct;
      if (target === null) throw new Error("the server gave no upload URL for this file");
      const answer = await this.put(upload, 1, target.url, upload.file as Blob, target.headers);
      if (answer === null) continue;
      const outcome = classifyPut(answer, false);
      if (outcome.kind === "ok") {
        upload.progress.done(1, upload.size);
        return;
      }
      upload.progress.reset(1);
      if (outcome.kind === "digest") {
        // The URL signs the file's declared checksum: the same file, read again, is sent again.
        if ((digestRetries += 1) > MAX_DIGEST_RETRIES) throw new Error(outcome.reason);
      } else if (outcome.kind === "resign" || outcome.kind === "resume") {
        upload.direct = null;
        if ((resigns += 1) > MAX_RESIGNS) throw new Error(outcome.reason);
      } else if (outcome.kind === "fatal") {
        throw new Error(outcome.reason);
      } else {
        await this.backOff(upload, outcome.reason, outcome.waitMs);
      }
    }
  }

  /** One PUT under the global cap; null when going offline interrupted it. */
  private async put(
    upload: Upload,
    partNumber: number,
    url: string,
    body: Blob,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<PutAnswer | null> {
    await this.network.passed();
    upload.stopIfOver();
    const release = await this.slots.acquire();
    let moved = false;
    try {
      await this.network.passed();
      upload.stopIfOver();
      const answer = await putBytes(url, body, {
        headers,
        stallMs: this.settings.stallMs,
        signal: AbortSignal.any([upload.controller.signal, this.hooks.offlineSignal()]),
        onProgress: (loaded) => {
          moved ||= loaded > 0;
          upload.progress.update(partNumber, loaded);
          this.hooks.changed();
        },
      });
      upload.stopIfOver();
      if (moved) upload.budget.reset(); // bytes moved: the link works, the budget starts over
      if (answer.status === 0 && !this.network.isOpen) {
        upload.progress.reset(partNumber);
        return null;
      }
      return answer;
    } finally {
      release();
    }
  }

  private async backOff(upload: Upload, reason: string, waitMs: number | null): Promise<void> {
    if (!this.network.isOpen) return; // offline: wait for the network, not for the budget
    if (!upload.budget.spend()) throw new Error(`gave up after ${upload.budget.spent} tries: ${reason}`);
    await sleep(waitMs ?? upload.budget.delay());
    upload.stopIfOver();
  }

  /** Hashes the part about to be sent and one signing batch after it while earlier parts are
   * on the wire: a window, not the whole file, so a paused or cancelled upload stops reading
   * its file, and other files' parts never queue behind one large file's hashing. */
  private hashAhead(upload: Upload, sending: number): void {
    if (upload.checksumAlgorithm === null) return;
    const ahead = upload.queue.slice(0, this.settings.signBatch);
    for (const number of [sending, ...ahead]) {
      this.checksumOf(upload, number);
    }
  }

  /** The part's checksum (base64, in the session's algorithm), hashed once unless S3 refused
   * the bytes; null when the session declared none. */
  checksumOf(upload: Upload, partNumber: number): Promise<string> | null {
    if (upload.checksumAlgorithm === null) return null;
    let pending = upload.checksums.get(partNumber);
    if (!pending) {
      const range = partRange(upload.size, upload.chunkSize, partNumber);
      const part = (upload.file as Blob).slice(range.start, range.end);
      pending = this.hasher.digest(part, "base64", upload.checksumAlgorithm);
      pending.then(
        (checksum) => {
          if (upload.checksums.get(partNumber) === pending) upload.checksummed.set(partNumber, checksum);
        },
        () => upload.checksums.delete(partNumber),
      );
      upload.checksums.set(partNumber, pending);
    }
    return pending;
  }

  /** A fresh URL for the part; signs it with the next parts in one request when needed. */
  private async partUrl(upload: Upload, partNumber: number): Promise<SignedPart> {
    upload.awaitingUrl.add(partNumber);
    try {
      return await this.freshUrl(upload, partNumber);
    } finally {
      upload.awaitingUrl.delete(partNumber);
    }
  }

  private async freshUrl(upload: Upload, partNumber: number): Promise<SignedPart> {
    for (;;) {
      const signed = upload.urls.get(partNumber);
      if (signed && !expiresSoon(signed.expires_at, this.settings.urlMarginMs)) return signed;
      upload.stopIfOver();
      await this.network.passed();
      upload.signing ??= this.sign(upload, partNumber).finally(() => {
        upload.signing = null;
      });
      try {
        await upload.signing;
      } catch (error) {
        if (this.network.isOpen) throw error; // offline: sign again once the network is back
      }
    }
  }

  /** With checksums a signing takes only parts already hashed, so it covers fewer parts than
   * a batch: the next hashed ones are signed while the parts in flight still have URLs, so no
   * part waits on a signing round trip. */
  private signAhead(upload: Upload): void {
    if (upload.checksumAlgorithm === null || upload.signing !== null) return;
    const unsigned = upload.queue.filter((n) => this.stale(upload, n));
    if (upload.queue.length - unsigned.length >= this.settings.partsPerFile) return;
    const next = unsigned.find((n) => upload.checksummed.has(n));
    if (next === undefined) return;
    const signing = this.sign(upload, next).finally(() => {
      if (upload.signing === signing) upload.signing = null;
    });
    upload.signing = signing;
    signing.catch(() => undefined); // a part whose URL is still missing signs again, and reports
  }

  private stale(upload: Upload, partNumber: number): boolean {
    const signed = upload.urls.get(partNumber);
    return !signed || expiresSoon(signed.expires_at, this.settings.urlMarginMs);
  }

  private async sign(upload: Upload, partNumber: number): Promise<void> {
    // The part asked for, the parts other workers wait for, then the parts still queued.
    const others = [...upload.awaitingUrl, ...upload.queue].filter((n) => n !== partNumber && this.stale(upload, n));
    let wanted = [partNumber, ...new Set(others)];
    let checksums: string[] | null = null;
    if (upload.checksumAlgorithm !== null) {
      // This part waits for its own checksum; the others join the request once hashed.
      const own = await (this.checksumOf(upload, partNumber) as Promise<string>);
      wanted = [partNumber, ...wanted.slice(1).filter((n) => upload.checksummed.has(n))];
      wanted = wanted.slice(0, this.settings.signBatch);
      checksums = wanted.map((n) => (n === partNumber ? own : (upload.checksummed.get(n) as string)));
    } else {
      wanted = wanted.slice(0, this.settings.signBatch);
    }
    const answer = await this.api.signParts(upload.sessionId as string, wanted, checksums);
    for (const part of answer.parts) upload.urls.set(part.part_number, part);
  }

}
