/** One PUT of bytes to a presigned URL by XMLHttpRequest: upload progress, stall detection. */

import type { PutAnswer } from "./retry.js";

/** Browsers set these themselves and refuse them from scripts. */
const FORBIDDEN = new Set(["content-length", "host", "connection", "expect"]);

/** The signed headers a script may set: the server signs Content-Length, the browser sends it. */
export function settableHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !FORBIDDEN.has(name.toLowerCase())));
}

export interface PutOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly onProgress: (loaded: number) => void;
  /** Abort and count as a network failure when no byte moves for this long. */
  readonly stallMs: number;
  readonly signal: AbortSignal;
}

/** Never rejects: every failure comes back as an answer with status 0 or S3's status. */
export function putBytes(url: string, body: Blob, options: PutOptions): Promise<PutAnswer> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    let stall: ReturnType<typeof setTimeout> | undefined;
    const settle = (answer: PutAnswer): void => {
      clearTimeout(stall);
      options.signal.removeEventListener("abort", onAbort);
      resolve(answer);
    };
    const failed = (body: string): void => settle({ status: 0, body, etag: null, retryAfter: null });
    const armStall = (): void => {
      clearTimeout(stall);
      stall = setTimeout(() => {
        xhr.abort();
        failed("stalled");
      }, options.stallMs);
    };
    const onAbort = (): void => {
      xhr.abort();
      failed("aborted");
    };
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(settableHeaders(options.headers ?? {}))) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => {
      armStall();
      options.onProgress(event.loaded);
    };
    xhr.onload = () =>
      settle({
        status: xhr.status,
        body: xhr.responseText,
        etag: xhr.getResponseHeader("ETag"),
        // Only throttling answers carry it; asking otherwise logs a CORS warning.
        retryAfter: xhr.status === 429 || xhr.status === 503 ? xhr.getResponseHeader("Retry-After") : null,
      });
    xhr.onerror = () => failed("network error");
    xhr.ontimeout = () => failed("timeout");
    options.signal.addEventListener("abort", onAbort);
    armStall();
    xhr.send(body);
  });
}
