/** The gateway's HTTP API as its OpenAPI document types it, retried where a retry can help. */

import type { components } from "./generated/openapi.js";
import { DEFAULT_BACKOFF, RetryBudget, retryAfterMs } from "./retry.js";
import { sleep } from "./sync.js";

type Schemas = components["schemas"];

/** The algorithms the browser hashes parts in (CRC32C by default; see digest.ts). */
export type ChecksumAlgorithm = Extract<Schemas["ChecksumAlgorithm"], "SHA256" | "CRC32C">;

export type DirectTarget = Schemas["DirectUpload"];
export type SessionView = Schemas["SessionView"];
export type ResumeView = Schemas["ResumeView"];
export type CompleteAnswer = Schemas["CompletionView"];
export type BatchUpload = Schemas["BatchUploadAccepted"] | Schemas["BatchUploadRefused"];
/** A signed part; `headers` lists what the PUT must send (the part's checksum when signed). */
export type SignedPart = Schemas["PartUrl"];
/** `checksum` is the whole file's, base64, in the declared algorithm: a direct URL signs it. */
export type BatchFile = Schemas["BatchFile"];
/** A part `complete` names; `checksum` as its URL signed it (a SHA256 upload needs them). */
export type CompletedPart = Schemas["CompletedPartBody"];
export type ErrorCode = Schemas["ErrorCode"];

/** A problem+json answer; `code` is the gateway's stable error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

export class IntakeApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: () => Promise<string>,
  ) {}

  /** The token the host gives now (asked anew on every call). */
  currentToken(): Promise<string> {
    return this.token();
  }

  initiateBatch(brandId: string, files: readonly BatchFile[]): Promise<{ uploads: BatchUpload[] }> {
    const body: Schemas["InitiateBatchBody"] = { brand_id: brandId, files: [...files] };
    return this.call("POST", "/app/uploads/initiate-batch", body);
  }

  /** One file, with the SHA-256 completion verifies. */
  initiate(brandId: string, file: BatchFile, checksumSha256: string): Promise<SessionView> {
    const body: Schemas["InitiateBody"] = {
      file_name: file.file_name,
      file_size: file.file_size,
      mime_type: file.mime_type,
      client_reference: file.client_reference,
      brand_id: brandId,
      checksum_sha256: checksumSha256,
      ...(file.checksum_algorithm ? { checksum_algorithm: file.checksum_algorithm } : {}),
      ...(file.checksum ? { checksum: file.checksum } : {}),
    };
    return this.call("POST", "/app/uploads/initiate", body);
  }

  /** Part URLs; `checksums` (base64, aligned with `partNumbers`) when the session declared one. */
  signParts(
    sessionId: string,
    partNumbers: readonly number[],
    checksums: readonly string[] | null,
  ): Promise<{ parts: SignedPart[] }> {
    const body: Schemas["PartUrlsBody"] = {
      part_numbers: [...partNumbers],
      ...(checksums === null ? {} : { checksums: [...checksums] }),
    };
    return this.call("POST", `/app/uploads/${sessionId}/multipart-part-urls`, body);
  }

  resume(sessionId: string): Promise<ResumeView> {
    return this.call("GET", `/app/uploads/${sessionId}/resume`);
  }

  session(sessionId: string): Promise<SessionView> {
    return this.call("GET", `/app/uploads/${sessionId}`);
  }

  activity(sessionId: string): Promise<Schemas["ActivityView"]> {
    return this.call("PUT", `/app/uploads/${sessionId}/activity`);
  }

  cancel(sessionId: string): Promise<Schemas["StatusView"]> {
    return this.call("POST", `/app/uploads/${sessionId}/cancel`);
  }

  complete(sessionId: string, parts: CompletedPart[] | null): Promise<CompleteAnswer> {
    const body: Schemas["CompleteBody"] =
      parts === null ? { upload_session_id: sessionId } : { upload_session_id: sessionId, parts };
    return this.call("POST", "/app/assets/upload/complete", body);
  }

  /**
   * One request, retried on network errors, 5xx and 429 with full-jitter backoff. The token is
   * asked for on every try, and a 401 is tried once more with a token asked for anew, so a host
   * that refreshes its tokens keeps long uploads going.
   */
  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const budget = new RetryBudget(DEFAULT_BACKOFF);
    let refreshed = false;
    for (;;) {
      let answer: Response;
      try {
        answer = await fetch(this.baseUrl + path, {
          method,
          headers: {
            Authorization: `Bearer ${await this.token()}`,
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        if (!budget.spend()) throw error;
        await sleep(budget.delay());
        continue;
      }
      if (answer.ok) return (await answer.json()) as T;
      if (answer.status === 401 && !refreshed) {
        refreshed = true;
        await answer.body?.cancel();
        continue;
      }
      if ((answer.status >= 500 || answer.status === 429) && budget.spend()) {
        await sleep(retryAfterMs(answer.headers.get("Retry-After")) ?? budget.delay());
        continue;
      }
      throw await problem(answer);
    }
  }
}

async function problem(answer: Response): Promise<ApiError> {
  try {
    const body = (await answer.json()) as { code?: string; detail?: string; title?: string };
    return new ApiError(answer.status, body.code ?? "unknown", body.detail ?? body.title ?? answer.statusText);
  } catch {
    return new ApiError(answer.status, "unknown", `the gateway answered ${answer.status}`);
  }
}
