/** The gateway's HTTP API as documented, with retries for answers a retry can fix. */

import { DEFAULT_BACKOFF, RetryBudget, retryAfterMs } from "./retry.js";
import { sleep } from "./sync.js";

export interface DirectTarget {
  readonly url: string;
  readonly method: "PUT";
  readonly headers: Readonly<Record<string, string>>;
  readonly expires_at: string;
}

export interface SessionView {
  readonly upload_session_id: string;
  readonly status: string;
  readonly upload_type: "direct" | "multipart";
  readonly file_name: string;
  readonly file_size: number;
  readonly mime_type: string;
  readonly direct: DirectTarget | null;
  readonly multipart: { upload_id: string; chunk_size: number; part_count: number } | null;
  readonly asset_id: string | null;
}

export type BatchUpload =
  | ({ readonly client_reference: string; readonly ok: true } & SessionView)
  | {
      readonly client_reference: string;
      readonly ok: false;
      readonly error: { code: string; detail: string };
    };

export interface SignedPart {
  readonly part_number: number;
  readonly url: string;
  readonly expires_at: string;
}

export interface ResumeView {
  readonly upload_session_id: string;
  readonly status: string;
  readonly upload_type: "direct" | "multipart";
  readonly can_resume: boolean;
  readonly chunk_size: number | null;
  readonly part_count: number | null;
  readonly uploaded_parts: readonly { part_number: number; size: number; etag: string }[];
  readonly uploaded_bytes: number;
  readonly direct?: DirectTarget | null;
}

export interface CompleteAnswer {
  readonly asset: { readonly asset_id: string };
  readonly upload_session_id: string;
  readonly status: string;
}

export interface BatchFile {
  readonly file_name: string;
  readonly file_size: number;
  readonly mime_type: string;
  readonly client_reference: string;
}

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
    private readonly token: () => string,
  ) {}

  initiateBatch(brandId: string, files: readonly BatchFile[]): Promise<{ uploads: BatchUpload[] }> {
    return this.call("POST", "/app/uploads/initiate-batch", { brand_id: brandId, files });
  }

  /** One file, with the optional SHA-256 completion verifies (the batch form has no checksum). */
  initiate(brandId: string, file: BatchFile, checksumSha256: string): Promise<SessionView> {
    return this.call("POST", "/app/uploads/initiate", {
      ...file,
      brand_id: brandId,
      checksum_sha256: checksumSha256,
    });
  }

  signParts(sessionId: string, partNumbers: readonly number[]): Promise<{ parts: SignedPart[] }> {
    return this.call("POST", `/app/uploads/${sessionId}/multipart-part-urls`, {
      part_numbers: partNumbers,
    });
  }

  resume(sessionId: string): Promise<ResumeView> {
    return this.call("GET", `/app/uploads/${sessionId}/resume`);
  }

  session(sessionId: string): Promise<SessionView> {
    return this.call("GET", `/app/uploads/${sessionId}`);
  }

  activity(sessionId: string): Promise<unknown> {
    return this.call("PUT", `/app/uploads/${sessionId}/activity`);
  }

  cancel(sessionId: string): Promise<{ status: string }> {
    return this.call("POST", `/app/uploads/${sessionId}/cancel`);
  }

  complete(
    sessionId: string,
    parts: readonly { part_number: number; etag: string }[] | null,
  ): Promise<CompleteAnswer> {
    const body = parts === null ? { upload_session_id: sessionId } : { upload_session_id: sessionId, parts };
    return this.call("POST", "/app/assets/upload/complete", body);
  }

  /** One request, retried on network errors, 5xx, 429 and 504 with full-jitter backoff. */
  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const budget = new RetryBudget(DEFAULT_BACKOFF);
    for (;;) {
      let answer: Response;
      try {
        answer = await fetch(this.baseUrl + path, {
          method,
          headers: {
            Authorization: `Bearer ${this.token()}`,
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
