/** Unfinished uploads kept in IndexedDB so a reloaded page resumes them, each under the tenant
 * and user who started it; opened on first use, never at import. */

import type { ChecksumAlgorithm } from "./api.js";
import type { Fingerprint } from "./fingerprint.js";

export interface StoredUpload {
  readonly sessionId: string;
  /** The tenant and user the upload belongs to (see scope.ts). */
  readonly scope: string;
  readonly fingerprint: Fingerprint;
  readonly fileName: string;
  readonly size: number;
  readonly mimeType: string;
  readonly uploadType: "direct" | "multipart";
  readonly chunkSize: number;
  readonly partCount: number;
  readonly checksumAlgorithm: ChecksumAlgorithm | null;
  /** Parts known stored; S3's ListParts (via /resume) stays the truth. */
  readonly finishedParts: readonly { part_number: number; etag: string }[];
  /** True when the bytes themselves are in the blob store (small enough to keep). */
  readonly hasBlob: boolean;
  readonly createdAt: number;
}

/** Where resume state lives; the default is IndexedDB, a host may bring its own. */
export interface UploadStorage {
  /** The uploads of `scope`; every upload of any other scope is deleted first. */
  claim(scope: string): Promise<StoredUpload[]>;
  save(upload: StoredUpload): Promise<void>;
  saveBlob(sessionId: string, blob: Blob): Promise<void>;
  blob(sessionId: string): Promise<Blob | null>;
  remove(sessionId: string): Promise<void>;
}

const DB = "intake-uploads";
// Version 2 scopes uploads by tenant and user; version 1's unscoped records are dropped.
const VERSION = 2;
const UPLOADS = "uploads";
const BLOBS = "blobs";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function done(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error("IndexedDB transaction failed"));
    transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB transaction aborted"));
  });
}

function open(): Promise<IDBDatabase> {
  const req = indexedDB.open(DB, VERSION);
  req.onupgradeneeded = () => {
    const db = req.result;
    for (const name of [...db.objectStoreNames]) db.deleteObjectStore(name);
    db.createObjectStore(UPLOADS, { keyPath: "sessionId" });
    db.createObjectStore(BLOBS);
  };
  return request(req);
}

export class IndexedDbStorage implements UploadStorage {
  private db: Promise<IDBDatabase> | null = null;

  private async transaction(mode: IDBTransactionMode): Promise<IDBTransaction> {
    this.db ??= open();
    return (await this.db).transaction([UPLOADS, BLOBS], mode);
  }

  async claim(scope: string): Promise<StoredUpload[]> {
    const transaction = await this.transaction("readwrite");
    const uploads = transaction.objectStore(UPLOADS);
    const all = (await request(uploads.getAll())) as StoredUpload[];
    const mine: StoredUpload[] = [];
    for (const upload of all) {
      if (upload.scope === scope) {
        mine.push(upload);
      } else {
        uploads.delete(upload.sessionId);
        transaction.objectStore(BLOBS).delete(upload.sessionId);
      }
    }
    await done(transaction);
    return mine;
  }

  async save(upload: StoredUpload): Promise<void> {
    const transaction = await this.transaction("readwrite");
    transaction.objectStore(UPLOADS).put(upload);
    await done(transaction);
  }

  /** The file's bytes, kept apart so saving progress never rewrites them. */
  async saveBlob(sessionId: string, blob: Blob): Promise<void> {
    const transaction = await this.transaction("readwrite");
    transaction.objectStore(BLOBS).put(blob, sessionId);
    await done(transaction);
  }

  async blob(sessionId: string): Promise<Blob | null> {
    const transaction = await this.transaction("readonly");
    const found = (await request(transaction.objectStore(BLOBS).get(sessionId))) as Blob | undefined;
    return found ?? null;
  }

  async remove(sessionId: string): Promise<void> {
    const transaction = await this.transaction("readwrite");
    transaction.objectStore(UPLOADS).delete(sessionId);
    transaction.objectStore(BLOBS).delete(sessionId);
    await done(transaction);
  }
}
