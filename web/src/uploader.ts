/** The UploadManager: initiates, sends, completes, cancels and resumes uploads for one host. */

import {
  ApiError,
  type BatchFile,
  type ChecksumAlgorithm,
  type CompletedPart,
  IntakeApi,
  type SessionView,
} from "./api.js";
import { declaredChecksum } from "./declare.js";
import { Emitter } from "./events.js";
import { fingerprintOf, type FileLike, mismatch } from "./fingerprint.js";
import { Hasher } from "./hasher.js";
import { batches, doneBytes } from "./plan.js";
import { overall, type ProgressSnapshot } from "./progress.js";
import { scopeOf } from "./scope.js";
import { fromServer, type Status } from "./state.js";
import { IndexedDbStorage, type UploadStorage } from "./store.js";
import { Sender } from "./sender.js";
import { Gate, Semaphore } from "./sync.js";
import { Stopped, Upload, type UploadView } from "./upload.js";

export interface UploaderOptions {
  /** The gateway's base URL, e.g. `https://uploads.example.com` (no trailing slash needed). */
  readonly endpoint: string;
  /** Asked before every request, so a host can refresh its token; a 401 asks once more. */
  readonly getToken: () => string | Promise<string>;
  /** The brand the uploads go to, or a function asked at each initiation. */
  readonly brandId: string | (() => string | Promise<string>);
  /** Parts of one file in flight at once. */
  readonly partsPerFile?: number;
  /** Parts of all files in flight at once. */
  readonly maxParts?: number;
  /** Parts signed per multipart-part-urls request (≤ 100). */
  readonly signBatch?: number;
  /** Files up to this size are kept for a reload and resume with no user action (capped at
   * MAX_PERSIST_LIMIT); larger ones must be picked again. */
  readonly persistLimit?: number;
  /** Where resume state is kept; `null` keeps none. Default: IndexedDB, per tenant and user. */
  readonly storage?: UploadStorage | null;
  readonly stallMs?: number;
  readonly heartbeatMs?: number;
  /** A URL expiring within this margin is signed again before use. */
  readonly urlMarginMs?: number;
  /** Per-part checksums S3 verifies as each part arrives (`CRC32C`, the default, or
   * `SHA256`), or null for none. */
  readonly checksumAlgorithm?: ChecksumAlgorithm | null;
  /** Files up to this size also get a whole-file SHA-256 that completion verifies; 0: none. */
  readonly verifyUpTo?: () => number;
  /** The hashing worker's script; default: `hash-worker.js` beside this module. */
  readonly workerUrl?: string | URL | null;
  /** Hashing workers at most. */
  readonly hashWorkers?: number;
}

export interface ProgressEvent {
  readonly id: string;
  readonly fileName: string;
  readonly bytes: number;
  readonly total: number;
  readonly speed: number;
  readonly etaS: number | null;
}

export interface StatusChange {
  readonly id: string;
  readonly fileName: string;
  readonly status: Status;
  readonly previous: Status | null;
  readonly sessionId: string | null;
}

export interface Completed {
  readonly id: string;
  readonly fileName: string;
  readonly sessionId: string;
  readonly assetId: string;
}

export interface Failed {
  readonly id: string;
  readonly fileName: string;
  readonly sessionId: string | null;
  readonly error: string;
  /** The gateway's stable error code when the gateway refused, else null. */
  readonly code: string | null;
}

export interface UploaderEvents {
  progress: ProgressEvent;
  status: StatusChange;
  completed: Completed;
  failed: Failed;
  /** Every upload's view and the total, a few times a second at most while bytes move. */
  change: { readonly uploads: readonly UploadView[]; readonly total: ProgressSnapshot };
}

/** No file larger than this is kept in the browser, whatever `persistLimit` asks. */
export const MAX_PERSIST_LIMIT = 256 * 1024 * 1024;

const DEFAULTS = {
  partsPerFile: 4,
  maxParts: 8,
  signBatch: 20,
  persistLimit: 100 * 1024 * 1024,
  stallMs: 30_000,
  heartbeatMs: 60_000,
  urlMarginMs: 60_000,
  checksumAlgorithm: "CRC32C" as ChecksumAlgorithm | null,
  hashWorkers: 2,
};

/** An UploadManager for one host app; nothing starts until it is used. */
export function createUploader(options: UploaderOptions): UploadManager {
  return new UploadManager(options);
}

export class UploadManager {
  private readonly uploads: Upload[] = [];
  private readonly events = new Emitter<UploaderEvents>();
  private readonly api: IntakeApi;
  private readonly storage: UploadStorage | null;
  private readonly sender: Sender;
  private readonly hasher: Hasher;
  private readonly network = new Gate();
  private offline = new AbortController();
  private readonly settings: typeof DEFAULTS;
  private readonly lastBytes = new Map<string, number>();
  private notifyTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private scope: string | null | undefined = undefined;
  private readonly onOffline = (): void => this.goOffline();
  private readonly onOnline = (): void => this.goOnline();

  constructor(private readonly options: UploaderOptions) {
    const given = stripUndefined(options) as Partial<typeof DEFAULTS>;
    this.settings = { ...DEFAULTS, ...given };
    this.settings.persistLimit = Math.max(0, Math.min(this.settings.persistLimit, MAX_PERSIST_LIMIT));
    const endpoint = options.endpoint.replace(/\/+$/, "");
    this.api = new IntakeApi(endpoint, async () => options.getToken());
    this.storage = options.storage === undefined ? new IndexedDbStorage() : options.storage;
    const workerUrl = options.workerUrl === undefined ? defaultWorkerUrl() : options.workerUrl;
    this.hasher = new Hasher(workerUrl, this.settings.hashWorkers);
    // Created with the page, long before a file is picked: the workers are ready by then.
    if (this.settings.checksumAlgorithm !== null) this.hasher.warm();
    this.sender = new Sender(
      this.api,
      this.settings,
      new Semaphore(this.settings.maxParts),
      this.network,
      {
        resync: (upload) => this.resync(upload),
        saved: (upload) => this.persistProgress(upload),
        changed: () => this.changed(),
        offlineSignal: () => this.offline.signal,
      },
      this.hasher,
    );
    if (typeof globalThis.addEventListener === "function") {
      globalThis.addEventListener("offline", this.onOffline);
      globalThis.addEventListener("online", this.onOnline);
    }
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.settings.heartbeatMs);
  }

  /** Listen to `progress`, `status`, `completed`, `failed` or `change`; returns the remover. */
  on<K extends keyof UploaderEvents>(name: K, listener: (payload: UploaderEvents[K]) => void): () => void {
    return this.events.on(name, listener);
  }

  /** Every upload as the host shows it, in the order they were added. */
  views(): UploadView[] {
    const now = performance.now();
    return this.uploads.map((upload) => upload.view(now));
  }

  /** Start uploading `files` (one initiate-batch request per 100); returns their upload ids. */
  async add(files: readonly FileLike[]): Promise<string[]> {
    const added = files.map((file) => new Upload(file, file.name, file.size, file.type || "application/octet-stream"));
    const scope = this.adoptScope(await this.api.currentToken());
    for (const upload of added) {
      upload.scope = scope;
      this.track(upload);
    }
    this.changed(true);
    await Promise.all(
      added.map(async (upload, index) => {
        upload.fingerprint = await fingerprintOf(files[index] as FileLike);
      }),
    );
    const limit = this.options.verifyUpTo?.() ?? 0;
    const verified = added.filter((upload) => upload.size > 0 && upload.size <= limit);
    const plain = added.filter((upload) => !verified.includes(upload));
    await Promise.all([
      ...verified.map((upload) => this.initiateVerified(upload)),
      ...batches(plain, 100).map((group) => this.initiate(group)),
    ]);
    return added.map((upload) => upload.id);
  }

  /**
   * Continue every unfinished upload this tenant and user started in an earlier page (small
   * files at once; larger ones once `provideFile` gives them back). Stored uploads of anyone
   * else are deleted, and when the token's user changed since the last call, the earlier
   * user's uploads are dropped from this manager (stopped here, not cancelled).
   */
  async resume(): Promise<void> {
    const scope = this.adoptScope(await this.api.currentToken());
    if (this.storage === null || scope === null) return;
    let stored;
    try {
      stored = await this.storage.claim(scope);
    } catch {
      return; // a blocked IndexedDB only loses resume-on-reload
    }
    for (const record of stored) {
      if (this.uploads.some((upload) => upload.sessionId === record.sessionId)) continue;
      const upload = Upload.fromRecord(record);
      this.track(upload);
      this.changed(true);
      try {
        if (!(await this.resync(upload))) continue;
        const blob = record.hasBlob ? await this.storage.blob(record.sessionId) : null;
        if (blob) {
          upload.file = blob;
          void this.run(upload);
        } else {
          upload.needsFile = true;
          upload.move("pause");
        }
      } catch (error) {
        this.fail(upload, error);
      }
      this.changed(true);
    }
  }

  /** The user picked a file for an upload that needs it again; refused unless it is the same. */
  async provideFile(id: string, file: FileLike): Promise<boolean> {
    const upload = this.find(id);
    if (!upload?.needsFile || upload.fingerprint === null) return false;
    const why = mismatch(upload.fingerprint, await fingerprintOf(file));
    if (why !== null) {
      upload.error = `"${file.name}" is not the file this upload started with: ${why}. Pick "${upload.fileName}".`;
      this.changed(true);
      return false;
    }
    upload.file = file;
    upload.needsFile = false;
    upload.error = null;
    upload.move("resume");
    void this.run(upload);
    return true;
  }

  /** Stop the upload and cancel its session (the server aborts its multipart upload). */
  async cancel(id: string): Promise<void> {
    const upload = this.find(id);
    if (!upload?.move("cancel")) return;
    upload.controller.abort();
    this.changed(true);
    if (upload.sessionId !== null) {
      await this.api.cancel(upload.sessionId);
      await this.forget(upload);
    }
  }

  /** Try a failed file again: it continues where S3 is, or starts over in a new session. */
  async retry(id: string): Promise<void> {
    const upload = this.find(id);
    if (!upload?.move("retry")) return;
    upload.error = null;
    upload.controller = new AbortController();
    upload.budget.reset();
    this.changed(true);
    try {
      if (upload.sessionId !== null && (await this.resync(upload))) {
        void this.run(upload);
        return;
      }
      if (upload.status === "completed" || !this.uploads.includes(upload)) return;
      upload.restart(performance.now()); // the session is over: a new one from byte zero
      await this.initiate([upload]);
    } catch (error) {
      this.fail(upload, error);
    }
  }

  /** Stop every timer, worker and listener; uploads in flight stop where they are. */
  destroy(): void {
    this.dropAll();
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    if (this.notifyTimer !== null) clearTimeout(this.notifyTimer);
    if (typeof globalThis.removeEventListener === "function") {
      globalThis.removeEventListener("offline", this.onOffline);
      globalThis.removeEventListener("online", this.onOnline);
    }
    this.hasher.close();
    this.events.clear();
  }

  private track(upload: Upload): void {
    upload.onStatus = (changed, previous) => this.statusChanged(changed, previous);
    this.uploads.push(upload);
    this.statusChanged(upload, null);
  }

  private statusChanged(upload: Upload, previous: Status | null): void {
    const base = { id: upload.id, fileName: upload.fileName, sessionId: upload.sessionId };
    this.events.emit("status", { ...base, status: upload.status, previous });
    if (upload.status === "completed" && upload.sessionId !== null && upload.assetId !== null) {
      this.events.emit("completed", { ...base, sessionId: upload.sessionId, assetId: upload.assetId });
    } else if (upload.status === "failed") {
      this.events.emit("failed", { ...base, error: upload.error ?? "failed", code: upload.errorCode });
    }
  }

  /** The token's tenant and user; when they changed, the earlier user's uploads leave. */
  private adoptScope(token: string): string | null {
    const scope = scopeOf(token);
    if (this.scope !== undefined && scope !== this.scope) this.dropAll();
    this.scope = scope;
    return scope;
  }

  /** Forget every upload here without touching the server (another user took over). */
  private dropAll(): void {
    for (const upload of this.uploads.splice(0)) {
      upload.onStatus = null;
      upload.controller.abort();
    }
    this.lastBytes.clear();
    this.changed(true);
  }

  private find(id: string): Upload | undefined {
    return this.uploads.find((upload) => upload.id === id);
  }

  private async brand(): Promise<string> {
    const { brandId } = this.options;
    return typeof brandId === "string" ? brandId : brandId();
  }

  private async batchFile(upload: Upload): Promise<BatchFile> {
    return {
      file_name: upload.fileName,
      file_size: upload.size,
      mime_type: upload.mimeType,
      client_reference: upload.id,
      ...(await declaredChecksum(upload.file, upload.size, this.settings.checksumAlgorithm, this.hasher)),
    };
  }

  private async initiateVerified(upload: Upload): Promise<void> {
    try {
      const checksum = await this.hasher.digest(upload.file as Blob, "hex");
      this.started(upload, await this.api.initiate(await this.brand(), await this.batchFile(upload), checksum));
    } catch (error) {
      this.fail(upload, error);
    }
  }

  private started(upload: Upload, session: SessionView): void {
    if (upload.status === "cancelled" || !this.uploads.includes(upload)) {
      void this.api.cancel(session.upload_session_id).catch(() => undefined); // cancelled meanwhile
      return;
    }
    upload.adopt(session);
    this.persistNew(upload);
    void this.run(upload);
  }

  private async initiate(group: readonly Upload[]): Promise<void> {
    let answer;
    try {
      const files = await Promise.all(group.map((upload) => this.batchFile(upload)));
      answer = await this.api.initiateBatch(await this.brand(), files);
    } catch (error) {
      group.forEach((upload) => this.fail(upload, error));
      return;
    }
    for (const item of answer.uploads) {
      const upload = this.find(item.client_reference);
      if (!upload) continue;
      if (item.ok) this.started(upload, item);
      else this.fail(upload, new ApiError(422, item.error.code, item.error.detail));
    }
  }

  private persistNew(upload: Upload): void {
    const storage = this.storage;
    if (storage === null || upload.scope === null) return;
    const keepBytes = upload.file !== null && upload.size <= this.settings.persistLimit;
    upload.saving = (async () => {
      if (keepBytes && upload.sessionId && upload.file) await storage.saveBlob(upload.sessionId, upload.file);
      await storage.save(upload.record(keepBytes));
      upload.persisted = true;
      this.changed(true);
    })().catch(() => undefined); // a full or blocked IndexedDB only loses resume-on-reload
    upload.hasBlob = keepBytes;
  }

  /** One save waits at most: it records the upload as it is when it runs, so the parts that
   * finish meanwhile need no save of their own. */
  private persistProgress(upload: Upload): void {
    const storage = this.storage;
    if (storage === null || upload.scope === null || upload.saveQueued) return;
    upload.saveQueued = true;
    upload.saving = upload.saving
      .then(() => {
        upload.saveQueued = false;
        return upload.status === "uploading" ? storage.save(upload.record(upload.hasBlob)) : undefined;
      })
      .catch(() => undefined);
  }

  private async forget(upload: Upload): Promise<void> {
    await upload.saving;
    if (upload.sessionId !== null && this.storage !== null) {
      await this.storage.remove(upload.sessionId).catch(() => undefined);
    }
  }

  /** Ask /resume where the session is; false when it needs no more bytes (finished or over). */
  private async resync(upload: Upload): Promise<boolean> {
    let answer;
    try {
      answer = await this.api.resume(upload.sessionId as string);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.uploads.splice(this.uploads.indexOf(upload), 1);
        await this.forget(upload);
        return false;
      }
      throw error;
    }
    const over = fromServer(answer.status);
    if (over !== null || !answer.can_resume) {
      if (over === "completed") {
        upload.progress.finish();
        upload.assetId = (await this.api.session(upload.sessionId as string)).asset_id;
      }
      upload.error = over === null ? `the server cannot resume this upload (${answer.status})` : null;
      upload.status = over ?? "failed";
      await this.forget(upload);
      return false;
    }
    upload.done.clear();
    for (const part of answer.uploaded_parts) upload.done.set(part.part_number, part.etag);
    upload.direct = answer.direct ?? null;
    if (upload.uploadType === "multipart") {
      upload.progress.setConfirmed(doneBytes(upload.size, upload.chunkSize, upload.done.keys()));
    }
    return true;
  }

  private async run(upload: Upload): Promise<void> {
    if (upload.running || upload.file === null) return;
    upload.running = true;
    try {
      upload.move("start");
      this.changed(true);
      await this.sender.send(upload);
      upload.stopIfOver();
      await this.complete(upload);
    } catch (error) {
      if (!(error instanceof Stopped)) this.fail(upload, error);
    } finally {
      upload.running = false;
      this.changed(true);
    }
  }

  private async complete(upload: Upload): Promise<void> {
    const parts = upload.uploadType === "multipart" ? await this.completedParts(upload) : null;
    const answer = await this.api.complete(upload.sessionId as string, parts);
    upload.assetId = answer.asset.asset_id;
    upload.progress.finish();
    this.changed(true); // the last progress (all bytes) comes before `completed`
    upload.move("complete");
    this.changed(true); // shown now: forgetting it waits on every queued save and on the store
    await this.forget(upload);
  }

  /** The parts to complete, in order. A SHA256 upload is COMPOSITE in S3, which completes it
   * only with every part's checksum: those hashed for sending, the others (parts sent before a
   * reload) hashed now. */
  private async completedParts(upload: Upload): Promise<CompletedPart[]> {
    const parts = [...upload.done]
      .sort(([a], [b]) => a - b)
      .map(([part_number, etag]) => ({ part_number, etag }));
    if (upload.checksumAlgorithm !== "SHA256") return parts;
    if (upload.file === null && parts.some((part) => !upload.checksummed.has(part.part_number))) {
      throw new Error("pick the file again: its parts' checksums complete the upload");
    }
    return Promise.all(
      parts.map(async (part) => ({ ...part, checksum: await this.sender.checksumOf(upload, part.part_number) })),
    );
  }

  private fail(upload: Upload, error: unknown): void {
    if (upload.status === "cancelled" || upload.status === "completed") return;
    upload.error = error instanceof Error ? error.message : String(error);
    upload.errorCode = error instanceof ApiError ? error.code : null;
    upload.move("fail");
    upload.controller.abort();
    this.changed(true);
  }

  private goOffline(): void {
    this.network.close();
    this.offline.abort(); // parts in flight would fail anyway; they are sent again once online
    this.offline = new AbortController();
    for (const upload of this.uploads) if (upload.running) upload.move("pause");
    this.changed(true);
  }

  private goOnline(): void {
    for (const upload of this.uploads) if (upload.running && upload.move("resume")) upload.move("start");
    this.network.open();
    this.changed(true);
  }

  private heartbeat(): void {
    for (const upload of this.uploads) {
      if (upload.status === "uploading" && upload.sessionId !== null) {
        this.api.activity(upload.sessionId).catch(() => undefined); // best effort: parts count too
      }
    }
  }

  private total(views: readonly UploadView[]): ProgressSnapshot {
    return overall(views.filter((view) => view.status !== "cancelled").map((view) => view.progress));
  }

  /** Tell listeners; progress is batched to a few notices per second. */
  private changed(now = false): void {
    if (now) {
      if (this.notifyTimer !== null) clearTimeout(this.notifyTimer);
      this.notifyTimer = null;
      this.notify();
      return;
    }
    this.notifyTimer ??= setTimeout(() => {
      this.notifyTimer = null;
      this.notify();
    }, 200);
  }

  private notify(): void {
    const views = this.views();
    for (const view of views) {
      if ((this.lastBytes.get(view.id) ?? 0) === view.progress.bytes) continue; // only moves count
      this.lastBytes.set(view.id, view.progress.bytes);
      this.events.emit("progress", { id: view.id, fileName: view.fileName, ...view.progress });
    }
    this.events.emit("change", { uploads: views, total: this.total(views) });
  }
}

/** The worker beside this module (the package's dist/, or the page's /static/). */
function defaultWorkerUrl(): URL | null {
  try {
    return new URL("./hash-worker.js", import.meta.url);
  } catch {
    return null;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
