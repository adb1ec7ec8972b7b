/** One file's upload as the manager tracks it, and the read-only view the page renders. */

import type { ChecksumAlgorithm, DirectTarget, SessionView, SignedPart } from "./api.js";
import type { Fingerprint } from "./fingerprint.js";
import { partRange } from "./plan.js";
import { Progress, type ProgressSnapshot } from "./progress.js";
import { DEFAULT_BACKOFF, RetryBudget } from "./retry.js";
import { type Status, type StatusEvent, transition } from "./state.js";
import type { StoredUpload } from "./store.js";

export interface UploadView {
  readonly id: string;
  readonly fileName: string;
  readonly size: number;
  readonly status: Status;
  readonly sessionId: string | null;
  readonly assetId: string | null;
  readonly error: string | null;
  /** The page must ask the user to pick this file again (too large to keep). */
  readonly needsFile: boolean;
  /** The upload (and, when small enough, the file) is saved for a reload. */
  readonly persisted: boolean;
  readonly progress: ProgressSnapshot;
}

/** Thrown inside an upload's workers once it was cancelled or failed elsewhere: stop quietly. */
export class Stopped extends Error {}

let counter = 0;

/** Called after every status change, with the status before it. */
export type StatusHook = (upload: Upload, previous: Status | null) => void;

export class Upload {
  readonly id = `u${Date.now().toString(36)}-${(counter += 1)}`;
  private current: Status = "queued";
  onStatus: StatusHook | null = null;
  sessionId: string | null = null;
  uploadType: "direct" | "multipart" = "direct";
  chunkSize = 0;
  partCount = 0;
  readonly done = new Map<number, string>();
  readonly urls = new Map<number, SignedPart>();
  /** Parts whose sender waits for a URL: the next signing request includes them. */
  readonly awaitingUrl = new Set<number>();
  queue: number[] = [];
  signing: Promise<void> | null = null;
  direct: DirectTarget | null = null;
  /** Declared by the session: every part is signed with, and sent with, its checksum. */
  checksumAlgorithm: ChecksumAlgorithm | null = null;
  /** Each part's checksum (base64), computed ahead of sending; dropped when S3 refuses it. */
  readonly checksums = new Map<number, Promise<string>>();
  readonly checksummed = new Map<number, string>();
  /** The tenant and user whose upload this is, or null when it must not be persisted. */
  scope: string | null = null;
  assetId: string | null = null;
  error: string | null = null;
  /** The gateway's error code of the last failure, when the gateway refused. */
  errorCode: string | null = null;
  fingerprint: Fingerprint | null = null;
  needsFile = false;
  persisted = false;
  hasBlob = false;
  running = false;
  saving: Promise<void> = Promise.resolve();
  saveQueued = false;
  controller = new AbortController();
  readonly budget = new RetryBudget(DEFAULT_BACKOFF);
  progress: Progress;

  constructor(
    public file: Blob | null,
    readonly fileName: string,
    readonly size: number,
    readonly mimeType: string,
  ) {
    this.progress = new Progress(size, performance.now());
  }

  get status(): Status {
    return this.current;
  }

  /** Set a status directly (the server said so); listeners hear of it like of a move. */
  set status(next: Status) {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    this.onStatus?.(this, previous);
  }

  /** Apply an event; false (and no change) when the status does not allow it. */
  move(event: StatusEvent): boolean {
    const next = transition(this.status, event);
    if (next === null) return false;
    this.status = next;
    return true;
  }

  /** Forget the old session (it ended on the server): initiate anew, progress from zero. */
  restart(now: number): void {
    this.status = "queued";
    this.sessionId = null;
    this.done.clear();
    this.urls.clear();
    this.direct = null;
    this.checksums.clear();
    this.checksummed.clear();
    this.progress = new Progress(this.size, now);
  }

  adopt(session: SessionView): void {
    this.sessionId = session.upload_session_id;
    this.uploadType = session.upload_type;
    this.direct = session.direct;
    this.chunkSize = session.multipart?.chunk_size ?? session.file_size;
    this.partCount = session.multipart?.part_count ?? 1;
    this.checksumAlgorithm = hashedHere(session.checksum_algorithm);
  }

  partSize(partNumber: number): number {
    const range = partRange(this.size, this.chunkSize, partNumber);
    return range.end - range.start;
  }

  stopIfOver(): void {
    if (this.controller.signal.aborted || this.status === "cancelled" || this.status === "failed") {
      throw new Stopped("stopped");
    }
  }

  record(hasBlob: boolean): StoredUpload {
    if (this.sessionId === null || this.fingerprint === null || this.scope === null) {
      throw new Error("not initiated");
    }
    return {
      sessionId: this.sessionId,
      scope: this.scope,
      fingerprint: this.fingerprint,
      fileName: this.fileName,
      size: this.size,
      mimeType: this.mimeType,
      uploadType: this.uploadType,
      chunkSize: this.chunkSize,
      partCount: this.partCount,
      checksumAlgorithm: this.checksumAlgorithm,
      finishedParts: [...this.done].map(([part_number, etag]) => ({ part_number, etag })),
      hasBlob,
      createdAt: Date.now(),
    };
  }

  static fromRecord(stored: StoredUpload): Upload {
    const upload = new Upload(null, stored.fileName, stored.size, stored.mimeType);
    upload.sessionId = stored.sessionId;
    upload.fingerprint = stored.fingerprint;
    upload.uploadType = stored.uploadType;
    upload.chunkSize = stored.chunkSize;
    upload.partCount = stored.partCount;
    upload.checksumAlgorithm = stored.checksumAlgorithm;
    upload.scope = stored.scope;
    upload.persisted = true;
    upload.hasBlob = stored.hasBlob;
    return upload;
  }

  /** Only an upload that is sending has a speed and an ETA; the others add nothing to totals. */
  private moving(snapshot: ProgressSnapshot): ProgressSnapshot {
    if (this.status === "uploading") return snapshot;
    return { ...snapshot, speed: 0, etaS: this.status === "completed" ? 0 : null };
  }

  view(now: number): UploadView {
    return {
      id: this.id,
      fileName: this.fileName,
      size: this.size,
      status: this.status,
      sessionId: this.sessionId,
      assetId: this.assetId,
      error: this.error,
      needsFile: this.needsFile,
      persisted: this.persisted,
      progress: this.moving(this.progress.snapshot(now)),
    };
  }
}

/** The session's algorithm when the browser hashes in it, else null (no checksums sent). */
function hashedHere(algorithm: SessionView["checksum_algorithm"]): ChecksumAlgorithm | null {
  return algorithm === "SHA256" || algorithm === "CRC32C" ? algorithm : null;
}
