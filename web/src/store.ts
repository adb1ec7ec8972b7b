/** Unfinished uploads kept in IndexedDB so a reloaded page resumes them by itself. */

import type { Fingerprint } from "./fingerprint.js";

export interface StoredUpload {
  readonly sessionId: string;
  readonly fingerprint: Fingerprint;
  readonly fileName: string;
  readonly size: number;
  readonly mimeType: string;
  readonly uploadType: "direct" | "multipart";
  readonly chunkSize: number;
  readonly partCount: number;
  /** Parts known stored; S3's ListParts (via /resume) stays the truth. */
  readonly finishedParts: readonly { part_number: number; etag: string }[];
  /** True when the bytes themselves are in the blob store (small enough to keep). */
  readonly hasBlob: boolean;
  readonly createdAt: number;
}

const DB = "intake-uploads";
const UPLOADS = "uploads";
const BLOBS = "blobs";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function open(): Promise<IDBDatabase> {
  const req = indexedDB.open(DB, 1);
  req.onupgradeneeded = () => {
    req.result.createObjectStore(UPLOADS, { keyPath: "sessionId" });
    req.result.createObjectStore(BLOBS);
  };
  return request(req);
}

export class UploadStore {
  private db: Promise<IDBDatabase> | null = null;

  private async store(name: string, mode: IDBTransactionMode): Promise<IDBObjectStore> {
    this.db ??= open();
    return (await this.db).transaction(name, mode).objectStore(name);
  }

  async list(): Promise<StoredUpload[]> {
    return request((await this.store(UPLOADS, "readonly")).getAll() as IDBRequest<StoredUpload[]>);
  }

  async save(upload: StoredUpload): Promise<void> {
    await request((await this.store(UPLOADS, "readwrite")).put(upload));
  }

  /** The file's bytes, kept apart so saving progress never rewrites them. */
  async saveBlob(sessionId: string, blob: Blob): Promise<void> {
    await request((await this.store(BLOBS, "readwrite")).put(blob, sessionId));
  }

  async blob(sessionId: string): Promise<Blob | null> {
    const found = (await request((await this.store(BLOBS, "readonly")).get(sessionId))) as Blob | undefined;
    return found ?? null;
  }

  async remove(sessionId: string): Promise<void> {
    await request((await this.store(UPLOADS, "readwrite")).delete(sessionId));
    await request((await this.store(BLOBS, "readwrite")).delete(sessionId));
  }
}
