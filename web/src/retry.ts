/** Pure retry rules: full-jitter backoff, Retry-After, and what an S3 answer to a PUT means. */

export interface BackoffPolicy {
  /** Tries without bytes moving before the file fails. */
  readonly attempts: number;
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { attempts: 8, baseMs: 500, capMs: 20_000 };

/** Wait after failed try number `attempt` (1-based): uniform in [0, min(cap, base·2ⁿ⁻¹)]. */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After as milliseconds (seconds or an HTTP date), or null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Counts tries that moved no bytes; moving bytes gives the whole budget back. */
export class RetryBudget {
  private failures = 0;

  constructor(private readonly policy: BackoffPolicy) {}

  /** Record a failure; false once the budget is spent. */
  spend(): boolean {
    this.failures += 1;
    return this.failures < this.policy.attempts;
  }

  /** The wait before the next try, from the failures counted so far. */
  delay(random: () => number = Math.random): number {
    return backoffDelay(this.policy, this.failures, random);
  }

  reset(): void {
    this.failures = 0;
  }

  get spent(): number {
    return this.failures;
  }
}

export type PutOutcome =
  | { readonly kind: "ok"; readonly etag: string }
  | { readonly kind: "retry"; readonly reason: string; readonly waitMs: number | null }
  | { readonly kind: "resign"; readonly reason: string }
  | { readonly kind: "resume"; readonly reason: string }
  | { readonly kind: "digest"; readonly reason: string }
  | { readonly kind: "fatal"; readonly reason: string };

export interface PutAnswer {
  /** 0 when no HTTP answer arrived (network error, timeout, stall). */
  readonly status: number;
  readonly body: string;
  readonly etag: string | null;
  readonly retryAfter: string | null;
}

/** S3's error code and message from its XML error body. */
export function s3Error(body: string): { code: string; message: string } {
  const pick = (tag: string): string =>
    new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(body)?.[1]?.trim() ?? "";
  return { code: pick("Code"), message: pick("Message") };
}

/** S3's codes for bytes that do not match their declared checksum: read and send them again. */
const BAD_DIGEST = new Set(["BadDigest", "XAmzContentChecksumMismatch"]);

/** What to do after one PUT of a part (or of a whole small file). */
export function classifyPut(
  answer: PutAnswer,
  needEtag: boolean = true,
  now: number = Date.now(),
): PutOutcome {
  const { status } = answer;
  if (status >= 200 && status < 300) {
    if (needEtag && (answer.etag === null || answer.etag === "")) {
      return { kind: "fatal", reason: "storage hides the ETag: its CORS rule must expose ETag" };
    }
    return { kind: "ok", etag: (answer.etag ?? "").replace(/"/g, "") };
  }
  const { code, message } = s3Error(answer.body);
  if (status === 0) return { kind: "retry", reason: "network error", waitMs: null };
  if (status === 429 || status >= 500 || status === 408) {
    return { kind: "retry", reason: `storage answered ${status}`, waitMs: retryAfterMs(answer.retryAfter, now) };
  }
  if (status === 400 && BAD_DIGEST.has(code)) {
    return { kind: "digest", reason: `storage refused the bytes' checksum (${code})` };
  }
  if (code === "SignatureDoesNotMatch") {
    return { kind: "fatal", reason: "storage refused the upload signature (SignatureDoesNotMatch)" };
  }
  if (status === 403 && (/expired/i.test(message) || code === "ExpiredToken" || code === "RequestExpired")) {
    return { kind: "resign", reason: "the upload URL expired" };
  }
  if (code === "NoSuchUpload" || (status === 404 && code === "")) {
    return { kind: "resume", reason: "storage no longer knows this upload" };
  }
  return { kind: "fatal", reason: `storage refused the upload: ${status} ${code} ${message}`.trim() };
}

/** True when a presigned URL will expire within `marginMs`: sign again before using it. */
export function expiresSoon(expiresAt: string, marginMs: number, now: number = Date.now()): boolean {
  const at = Date.parse(expiresAt);
  return Number.isNaN(at) || at - now <= marginMs;
}
