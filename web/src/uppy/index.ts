/**
 * `@intake/uploader/uppy`: real Uppy (`@uppy/core` + `@uppy/aws-s3`) uploading through Intake.
 *
 *   uppy.use(Intake, { endpoint, getToken, brandId })
 *
 * Intake starts every upload (one initiate-batch per `upload()`), signs every S3 request
 * `@uppy/aws-s3` makes and completes each upload, so each file becomes exactly one Asset:
 * - part and direct PUTs go to S3 with Intake's presigned URLs (parts signed in batches);
 * - CreateMultipartUpload, ListParts, CompleteMultipartUpload and AbortMultipartUpload go to
 *   the gateway's `/app/uppy/{session}/…` routes, which answer in S3's XML and are the
 *   session's initiate (already done), resume, complete and cancel. They carry the bearer
 *   token from `getToken` in a header; no token is ever put in a URL;
 * - a direct upload is completed by this plugin's post-processor.
 * Each file's meta gets `intakeSessionId` and, once the Asset exists, `intakeAssetId`.
 *
 * Checksums (`checksumAlgorithm`, CRC32C by default): each part is hashed in a worker pool
 * ahead of its signing and signed with its checksum; the URL's checksum header goes back to
 * `@uppy/aws-s3`, which sends it with the PUT, so S3 refuses other bytes (400 BadDigest). A
 * direct upload declares the whole file's checksum at initiation, and its URL signs it.
 * `@uppy/aws-s3` does not retry a 400: the file fails. A file refused for a bad digest is retried
 * here (`uppy.retryUpload`): a multipart upload resumes (ListParts), so only the parts S3 lacks
 * are sent, the refused one read, hashed and signed anew; a direct upload is sent again.
 */

import AwsS3 from "@uppy/aws-s3";
import {
  BasePlugin,
  type Body,
  type DefinePluginOpts,
  type Meta,
  type PluginOpts,
  type Uppy,
  type UppyFile,
} from "@uppy/core";

import { type BatchFile, type DirectTarget, IntakeApi, type SessionView } from "../api.js";
import { declaredChecksum } from "../declare.js";
import { Hasher } from "../hasher.js";
import { partRange } from "../plan.js";
import { settableHeaders } from "../transfer.js";
import { type HashPart, type PartTarget, PartUrls } from "./part-urls.js";
import { refusedForDigest } from "./refusal.js";

export interface IntakeOptions extends PluginOpts {
  /** The gateway's base URL, e.g. `https://intake.example.com`. */
  endpoint: string;
  /** A current bearer token; called before every gateway request, so it may refresh. */
  getToken: () => string | Promise<string>;
  brandId: string;
  /** Files in flight at once (`@uppy/aws-s3`'s `limit`; its parts go one after another). */
  limit?: number;
  /** Part URLs per signing call. */
  signBatch?: number;
  /** A presigned URL with less time than this left is signed again before it is used. */
  renewBeforeMs?: number;
  /** Checksums S3 verifies: each part's as it arrives, or a direct upload's whole file
   * (`CRC32C`, the default); null for none. Not `SHA256`: S3 completes a SHA256 multipart
   * upload only with every part's checksum, and `@uppy/aws-s3`'s complete names none. */
  checksumAlgorithm?: "CRC32C" | null;
  /** The hashing worker's script; default: this package's `hash-worker.js`. A bundled host app
   * serves `@intake/uploader/hash-worker.js` and passes its URL; null hashes on the page. */
  workerUrl?: string | URL | null;
  /** Hashing workers at most. */
  hashWorkers?: number;
}

/** What this plugin keeps in each file's meta (persisted by Golden Retriever with the file). */
export interface IntakeMeta {
  intakeSessionId?: string;
  intakeAssetId?: string;
  /** Intake's part size for a multipart session; absent for a direct upload. */
  intakeChunkSize?: number;
}

const defaults = {
  limit: 6,
  signBatch: 20,
  renewBeforeMs: 60_000,
  checksumAlgorithm: "CRC32C" as "CRC32C" | null,
  hashWorkers: 2,
};
type Opts = DefinePluginOpts<IntakeOptions, keyof typeof defaults>;
/** The gateway takes up to this many files per initiate-batch. */
const BATCH_FILES = 100;
/** Times one file is sent again after S3 refused its bytes for a bad digest. */
const MAX_DIGEST_RETRIES = 3;

interface Known {
  direct: DirectTarget | null;
  parts: PartUrls | null;
}

export default class Intake<M extends Meta, B extends Body> extends BasePlugin<Opts, M, B> {
  static VERSION = "0.1.0";

  private readonly sessions = new Map<string, Known>();
  private readonly refused = new Map<string, Error>();
  /** Files whose last attempt S3 refused for a bad digest, and how often each was retried. */
  private readonly digestRefused = new Set<string>();
  private readonly digestRetries = new Map<string, number>();
  private readonly hasher: Hasher;

  constructor(uppy: Uppy<M, B>, opts: IntakeOptions) {
    super(uppy, { ...defaults, ...opts });
    const algorithm: string | null = this.opts.checksumAlgorithm;
    if (algorithm !== "CRC32C" && algorithm !== null) {
      throw new TypeError(
        `checksumAlgorithm ${algorithm} is not for Uppy: "CRC32C" or null (@uppy/aws-s3 completes` +
          " a multipart upload without the parts' checksums a SHA256 upload needs)",
      );
    }
    this.id = opts.id ?? "Intake";
    this.type = "modifier";
    this.hasher = new Hasher(opts.workerUrl === undefined ? defaultWorkerUrl() : opts.workerUrl, this.opts.hashWorkers);
  }

  override install(): void {
    this.uppy.addPreProcessor(this.initiate);
    this.uppy.addPostProcessor(this.completeDirect);
    this.uppy.on("file-removed", this.onRemoved);
    this.uppy.on("upload-error", this.onUploadError);
    this.uppy.use(AwsS3<M, B>, {
      id: `${this.id}:AwsS3`,
      limit: this.opts.limit,
      allowedMetaFields: false,
      shouldUseMultipart: (file: UppyFile<M, B>) => chunkSizeOf(file) !== undefined,
      getChunkSize: ({ size }: { size: number }) => this.chunkSizeFor(size),
      generateObjectKey: (file: UppyFile<M, B>) => intakeMeta(file).intakeSessionId ?? `refused:${file.id}`,
      signRequest: (request) => this.sign(request),
    });
    // After `@uppy/aws-s3`'s own uploader, so an upload's result counts the retried files.
    this.uppy.addUploader(this.retryRefusedDigests);
  }

  override uninstall(): void {
    this.uppy.removePreProcessor(this.initiate);
    this.uppy.removePostProcessor(this.completeDirect);
    this.uppy.off("file-removed", this.onRemoved);
    this.uppy.off("upload-error", this.onUploadError);
    this.uppy.removeUploader(this.retryRefusedDigests);
    const s3 = this.uppy.getPlugin(`${this.id}:AwsS3`);
    if (s3 !== undefined) this.uppy.removePlugin(s3);
    this.hasher.close();
  }

  private async api(): Promise<IntakeApi> {
    return new IntakeApi(this.opts.endpoint.replace(/\/+$/, ""), async () => await this.opts.getToken());
  }

  private async authorization(): Promise<Record<string, string>> {
    return { Authorization: `Bearer ${await this.opts.getToken()}` };
  }

  /** Pre-processor: one initiate-batch for the files of this upload that have no session. */
  private readonly initiate = async (fileIDs: string[]): Promise<void> => {
    const fresh = fileIDs
      .map((id) => this.uppy.getFile(id))
      .filter((file): file is UppyFile<M, B> => file !== undefined && !intakeMeta(file).intakeSessionId);
    for (let start = 0; start < fresh.length; start += BATCH_FILES) {
      const files = fresh.slice(start, start + BATCH_FILES);
      const asked: BatchFile[] = await Promise.all(
        files.map(async (file, index) => ({
          file_name: file.name ?? "file",
          file_size: file.size ?? 0,
          mime_type: file.type || "application/octet-stream",
          client_reference: String(index),
          ...(await declaredChecksum(bytesOf(file), file.size ?? 0, this.opts.checksumAlgorithm, this.hasher)),
        })),
      );
      const answer = await (await this.api()).initiateBatch(this.opts.brandId, asked);
      for (const upload of answer.uploads) {
        const file = files[Number(upload.client_reference)];
        if (file === undefined) continue;
        if (upload.ok) {
          this.remember(upload).parts?.warm();
          const meta: IntakeMeta = { intakeSessionId: upload.upload_session_id };
          if (upload.multipart) meta.intakeChunkSize = upload.multipart.chunk_size;
          this.uppy.setFileMeta(file.id, meta as unknown as M);
        } else {
          const error = new Error(`Intake refused ${file.name ?? "the file"}: ${upload.error.detail}`);
          this.refused.set(`refused:${file.id}`, error);
          this.uppy.emit("upload-error", file, error);
        }
      }
    }
  };

  private remember(view: SessionView): Known {
    const known: Known = { direct: view.direct, parts: null };
    if (view.multipart !== null) {
      const { part_count: partCount, chunk_size: chunkSize } = view.multipart;
      const sessionId = view.upload_session_id;
      known.parts = new PartUrls(
        async (numbers, checksums) => (await (await this.api()).signParts(sessionId, numbers, checksums)).parts,
        partCount,
        { batch: this.opts.signBatch, renewBeforeMs: this.opts.renewBeforeMs },
        Date.now,
        this.partHasher(sessionId, chunkSize, view.checksum_algorithm ?? null),
      );
    }
    this.sessions.set(view.upload_session_id, known);
    return known;
  }

  /**
   * How a session's parts are hashed: in the algorithm the session declared (the gateway
   * refuses its part URLs without checksums), the bytes read from the file Uppy holds now, cut
   * where `@uppy/aws-s3` cuts them (Intake's chunk size).
   */
  private partHasher(sessionId: string, chunkSize: number, declared: string | null): HashPart | null {
    if (declared === null) return null;
    return async (partNumber) => {
      if (declared !== "CRC32C" && declared !== "SHA256") {
        throw new Error(`session ${sessionId} declared ${declared}, which this browser does not compute`);
      }
      const file = this.uppy.getFiles().find((f) => intakeMeta(f).intakeSessionId === sessionId);
      const bytes = file === undefined ? null : bytesOf(file);
      if (bytes === null) throw new Error(`no file holds the bytes of session ${sessionId}`);
      const range = partRange(bytes.size, chunkSize, partNumber);
      return this.hasher.digest(bytes.slice(range.start, range.end), "base64", declared);
    };
  }

  /** What this page knows of a session; after a reload, asked of the gateway once. */
  private async known(sessionId: string): Promise<Known> {
    return this.sessions.get(sessionId) ?? this.remember(await (await this.api()).session(sessionId));
  }

  private chunkSizeFor(size: number): number {
    const file = this.uppy.getFiles().find((f) => f.size === size && chunkSizeOf(f) !== undefined);
    const chunk = file === undefined ? undefined : chunkSizeOf(file);
    if (chunk === undefined) throw new Error(`no Intake multipart session for a file of ${size} bytes`);
    return chunk;
  }

  /** `@uppy/aws-s3`'s one-request signer: each S3 request it makes, pointed where Intake says. */
  private async sign(request: S3Request): Promise<PartTarget> {
    const sessionId = request.key;
    const refusal = this.refused.get(sessionId);
    if (refusal !== undefined) throw refusal;
    const session = `${this.opts.endpoint.replace(/\/+$/, "")}/app/uppy/${encodeURIComponent(sessionId)}`;
    if (request.method === "PUT" && request.partNumber !== undefined) {
      const known = await this.known(sessionId);
      if (known.parts === null) throw new Error(`session ${sessionId} is not a multipart upload`);
      return known.parts.url(request.partNumber);
    }
    if (request.method === "PUT") return this.directTarget(sessionId);
    if (request.method === "POST" && request.uploadId === undefined) {
      return { url: `${session}/multipart`, headers: await this.authorization() };
    }
    if (request.method === "POST") return { url: `${session}/complete`, headers: await this.authorization() };
    if (request.method === "GET") return { url: `${session}/parts`, headers: await this.authorization() };
    if (request.method === "DELETE" && request.uploadId !== undefined) {
      return { url: session, headers: await this.authorization() };
    }
    throw new Error(`Intake does not sign ${request.method} of ${sessionId} without an upload`);
  }

  /** The direct PUT, its URL renewed through `resume` when it is close to expiring. */
  private async directTarget(sessionId: string): Promise<{ url: string; headers: Record<string, string> }> {
    const known = await this.known(sessionId);
    let direct = known.direct;
    if (direct === null || Date.parse(direct.expires_at) - Date.now() <= this.opts.renewBeforeMs) {
      direct = (await (await this.api()).resume(sessionId)).direct ?? null;
      known.direct = direct;
    }
    if (direct === null) throw new Error(`session ${sessionId} has no direct upload URL`);
    // Chromium refuses a script's Content-Length and logs it; it sends the right one itself.
    return { url: direct.url, headers: settableHeaders(direct.headers) };
  }

  /**
   * Post-processor: the Asset of every uploaded file. A direct upload is completed here; a
   * multipart one was completed by the gateway's CompleteMultipartUpload, so its Asset is read.
   */
  private readonly completeDirect = async (fileIDs: string[]): Promise<void> => {
    await Promise.all(
      fileIDs.map(async (id) => {
        const file = this.uppy.getFile(id);
        const meta = file === undefined ? {} : intakeMeta(file);
        if (file === undefined || !meta.intakeSessionId || meta.intakeAssetId) return;
        if (file.error || !file.progress.uploadComplete) return;
        this.uppy.emit("postprocess-progress", file, { mode: "indeterminate", message: "Completing" });
        try {
          const api = await this.api();
          const assetId =
            chunkSizeOf(file) === undefined
              ? (await api.complete(meta.intakeSessionId, null)).asset.asset_id
              : (await api.session(meta.intakeSessionId)).asset_id;
          if (assetId === null) throw new Error("Intake has no Asset for this upload");
          this.uppy.setFileMeta(id, { intakeAssetId: assetId } as unknown as M);
          this.sessions.delete(meta.intakeSessionId);
          this.digestRetries.delete(id);
          this.uppy.emit("postprocess-complete", this.uppy.getFile(id));
        } catch (error) {
          this.uppy.emit("upload-error", file, error instanceof Error ? error : new Error(String(error)));
        }
      }),
    );
  };

  private readonly onUploadError = (file: UppyFile<M, B> | undefined, error: unknown): void => {
    if (file !== undefined && refusedForDigest(error)) this.digestRefused.add(file.id);
  };

  /**
   * Uploader step after `@uppy/aws-s3`'s: each file S3 refused for a bad digest is uploaded
   * again (a few times at most) before this upload's result is made, so it counts the retry.
   */
  private readonly retryRefusedDigests = async (fileIDs: string[]): Promise<void> => {
    const refused = fileIDs.filter((id) => this.digestRefused.delete(id));
    await Promise.all(
      refused.map(async (id) => {
        const tries = (this.digestRetries.get(id) ?? 0) + 1;
        if (tries > MAX_DIGEST_RETRIES || this.uppy.getFile(id) === undefined) return;
        this.digestRetries.set(id, tries);
        this.uppy.log(`Intake: S3 refused the bytes of ${id} for their checksum; sending them again`, "warning");
        try {
          await this.uppy.retryUpload(id);
        } catch (error) {
          this.uppy.log(`Intake: the retry of ${id} failed: ${String(error)}`, "warning");
        }
      }),
    );
  };

  /** A file removed before its Asset exists is cancelled: Intake aborts its multipart upload. */
  private readonly onRemoved = (file: UppyFile<M, B> | undefined): void => {
    if (file !== undefined) this.digestRetries.delete(file.id);
    const meta = file === undefined ? {} : intakeMeta(file);
    if (!meta.intakeSessionId || meta.intakeAssetId) return;
    const sessionId = meta.intakeSessionId;
    this.sessions.delete(sessionId);
    void this.api()
      .then((api) => api.cancel(sessionId))
      .catch((error: unknown) => this.uppy.log(`Intake: cancel of ${sessionId} failed: ${String(error)}`, "warning"));
  };
}

/** The requests `@uppy/aws-s3` asks to have signed (its `PresignableRequest`, flattened). */
interface S3Request {
  readonly method: "GET" | "PUT" | "POST" | "DELETE";
  readonly key: string;
  readonly uploadId?: string;
  readonly partNumber?: number;
}

function intakeMeta(file: UppyFile<Meta, Body>): IntakeMeta {
  return file.meta as IntakeMeta;
}

/** The file's bytes when Uppy holds them (a ghost restored without them holds none). */
function bytesOf(file: UppyFile<Meta, Body>): Blob | null {
  return typeof Blob !== "undefined" && file.data instanceof Blob ? file.data : null;
}

/** `hash-worker.js` at the package's root, one folder above this module's. */
function defaultWorkerUrl(): URL | null {
  try {
    return new URL("../hash-worker.js", import.meta.url);
  } catch {
    return null;
  }
}

function chunkSizeOf(file: UppyFile<Meta, Body>): number | undefined {
  const size = intakeMeta(file).intakeChunkSize;
  return typeof size === "number" && size > 0 ? size : undefined;
}

export { Intake };
