/** The UploadManager: one per page; initiates, sends, completes, cancels and resumes uploads. */

import { ApiError, type BatchFile, IntakeApi, type SessionView } from "./api.js";
import { fingerprintOf, type FileLike, mismatch } from "./fingerprint.js";
import { sha256InWorker } from "./checksum.js";
import { batches, doneBytes } from "./plan.js";
import { overall, type ProgressSnapshot } from "./progress.js";
import { fromServer } from "./state.js";
import { UploadStore } from "./store.js";
import { Sender } from "./sender.js";
import { Gate, Semaphore } from "./sync.js";
import { Stopped, Upload, type UploadView } from "./upload.js";

export interface ManagerOptions {
  readonly baseUrl: string;
  readonly token: () => string;
  readonly brandId: () => string;
  /** Parts of one file in flight at once. */
  readonly partsPerFile?: number;
  /** Parts of all files in flight at once. */
  readonly maxParts?: number;
  /** Parts signed per multipart-part-urls request (≤ 100). */
  readonly signBatch?: number;
  /** Files up to this size are kept in IndexedDB and resume with no user action. */
  readonly persistLimit?: number;
  readonly stallMs?: number;
  readonly heartbeatMs?: number;
  /** A URL expiring within this margin is signed again before use. */
  readonly urlMarginMs?: number;
  /** Files up to this size get a SHA-256 (in a worker) that completion verifies; 0: none. */
  readonly hashLimit?: () => number;
  readonly workerUrl?: string;
}

export type Listener = (uploads: readonly UploadView[], total: ProgressSnapshot) => void;

const DEFAULTS = {
  partsPerFile: 4,
  maxParts: 8,
  signBatch: 20,
  persistLimit: 100 * 1024 * 1024,
  stallMs: 30_000,
  heartbeatMs: 60_000,
  urlMarginMs: 60_000,
  workerUrl: "/static/sha256-worker.js",
};

let instance: UploadManager | null = null;

/** The page's one UploadManager, created on first use. */
export function uploadManager(options: ManagerOptions): UploadManager {
  instance ??= new UploadManager(options);
  return instance;
}

export class UploadManager {
  private readonly uploads: Upload[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly api: IntakeApi;
  private readonly store = new UploadStore();
  private readonly sender: Sender;
  private readonly network = new Gate();
  private offline = new AbortController();
  private readonly settings: typeof DEFAULTS & Pick<ManagerOptions, "hashLimit">;
  private notifyTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: ManagerOptions) {
    this.settings = { ...DEFAULTS, ...stripUndefined(options) };
    this.api = new IntakeApi(options.baseUrl, options.token);
    this.sender = new Sender(this.api, this.settings, new Semaphore(this.settings.maxParts), this.network, {
      resync: (upload) => this.resync(upload),
      saved: (upload) => this.persistProgress(upload),
      changed: () => this.changed(),
      offlineSignal: () => this.offline.signal,
    });
    addEventListener("offline", () => this.goOffline());
    addEventListener("online", () => this.goOnline());
    setInterval(() => this.heartbeat(), this.settings.heartbeatMs);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    const views = this.views();
    listener(views, this.total(views));
    return () => this.listeners.delete(listener);
  }

  views(): UploadView[] {
    const now = performance.now();
    return this.uploads.map((upload) => upload.view(now));
  }

  /** Start uploading `files`: one initiate-batch request per 100 files. */
  async add(files: readonly FileLike[]): Promise<void> {
    const added = files.map((file) => new Upload(file, file.name, file.size, file.type || "application/octet-stream"));
    this.uploads.push(...added);
    this.changed(true);
    await Promise.all(added.map(async (upload, index) => {
      upload.fingerprint = await fingerprintOf(files[index] as FileLike);
    }));
    const limit = this.settings.hashLimit?.() ?? 0;
    const hashed = added.filter((upload) => upload.size > 0 && upload.size <= limit);
    const plain = added.filter((upload) => !hashed.includes(upload));
    await Promise.all([
      ...hashed.map((upload) => this.initiateWithChecksum(upload)),
      ...batches(plain, 100).map((group) => this.initiate(group)),
    ]);
  }

  /** Called on page load: every unfinished upload of an earlier page continues. */
  async restore(): Promise<void> {
    for (const stored of await this.store.list()) {
      if (this.uploads.some((upload) => upload.sessionId === stored.sessionId)) continue;
      const upload = Upload.fromRecord(stored);
      this.uploads.push(upload);
      this.changed(true);
      try {
        if (!(await this.resync(upload))) continue;
        const blob = stored.hasBlob ? await this.store.blob(stored.sessionId) : null;
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

  private find(id: string): Upload | undefined {
    return this.uploads.find((upload) => upload.id === id);
  }

  private async initiateWithChecksum(upload: Upload): Promise<void> {
    const checksum = await sha256InWorker(upload.file as Blob, this.settings.workerUrl);
    if (checksum === null) {
      await this.initiate([upload]); // no worker here: upload without the optional check
      return;
    }
    try {
      this.started(upload, await this.api.initiate(this.options.brandId(), batchFile(upload), checksum));
    } catch (error) {
      this.fail(upload, error);
    }
  }

  private started(upload: Upload, session: SessionView): void {
    if (upload.status === "cancelled") {
      void this.api.cancel(session.upload_session_id).catch(() => undefined); // cancelled meanwhile
      return;
    }
    upload.adopt(session);
    this.persistNew(upload);
    void this.run(upload);
  }

  private async initiate(group: readonly Upload[]): Promise<void> {
    const files: BatchFile[] = group.map(batchFile);
    let answer;
    try {
      answer = await this.api.initiateBatch(this.options.brandId(), files);
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
    const keepBytes = upload.file !== null && upload.size <= this.settings.persistLimit;
    upload.saving = (async () => {
      if (keepBytes && upload.sessionId && upload.file) await this.store.saveBlob(upload.sessionId, upload.file);
      await this.store.save(upload.record(keepBytes));
      upload.persisted = true;
      this.changed(true);
    })().catch(() => undefined); // a full or blocked IndexedDB only loses resume-on-reload
    upload.hasBlob = keepBytes;
  }

  private persistProgress(upload: Upload): void {
    upload.saving = upload.saving
      .then(() => (upload.status === "uploading" ? this.store.save(upload.record(upload.hasBlob)) : undefined))
      .catch(() => undefined);
  }

  private async forget(upload: Upload): Promise<void> {
    await upload.saving;
    if (upload.sessionId !== null) await this.store.remove(upload.sessionId).catch(() => undefined);
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
      upload.status = over ?? "failed";
      upload.error = over === null ? `the server cannot resume this upload (${answer.status})` : null;
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
    const parts =
      upload.uploadType === "multipart"
        ? [...upload.done].sort(([a], [b]) => a - b).map(([part_number, etag]) => ({ part_number, etag }))
        : null;
    const answer = await this.api.complete(upload.sessionId as string, parts);
    upload.assetId = answer.asset.asset_id;
    upload.progress.finish();
    upload.move("complete");
    await this.forget(upload);
  }

  private fail(upload: Upload, error: unknown): void {
    if (upload.status === "cancelled" || upload.status === "completed") return;
    upload.error = error instanceof Error ? error.message : String(error);
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

  /** Tell listeners; progress is batched to a few renders per second. */
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
    const total = this.total(views);
    for (const listener of this.listeners) listener(views, total);
  }
}

function batchFile(upload: Upload): BatchFile {
  return {
    file_name: upload.fileName,
    file_size: upload.size,
    mime_type: upload.mimeType,
    client_reference: upload.id,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

