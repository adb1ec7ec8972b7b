/**
 * Part URLs of one multipart session, signed in batches and handed out one at a time.
 *
 * `@uppy/aws-s3` asks for one part URL right before it sends that part; Intake signs many per
 * call. Each URL is served only while it has more than `renewBeforeMs` left, so a URL is signed
 * again before it expires, never first found stale by a 403. The next batch is asked for while
 * half of the current one is still unsent, so a file's parts do not wait on signing.
 */

export interface SignedUrl {
  readonly part_number: number;
  readonly url: string;
  readonly expires_at: string;
}

export type SignParts = (partNumbers: readonly number[]) => Promise<readonly SignedUrl[]>;

export interface PartUrlPolicy {
  /** Part numbers per signing call (the gateway takes up to 100). */
  readonly batch: number;
  /** A URL with less than this left is signed again before it is used. */
  readonly renewBeforeMs: number;
}

export class PartUrls {
  private readonly urls = new Map<number, { url: string; expiresAt: number }>();
  private signing: Promise<void> | null = null;

  constructor(
    private readonly sign: SignParts,
    private readonly partCount: number,
    private readonly policy: PartUrlPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** A URL for `partNumber` with time to spare, signing it (and the parts after it) if needed. */
  async url(partNumber: number): Promise<string> {
    if (partNumber < 1 || partNumber > this.partCount) {
      throw new RangeError(`part ${partNumber} is outside 1…${this.partCount}`);
    }
    if (this.signing !== null && !this.fresh(partNumber)) await this.signing;
    if (!this.fresh(partNumber)) await this.fill(partNumber);
    const found = this.fresh(partNumber);
    if (found === undefined) throw new Error(`Intake signed no URL for part ${partNumber}`);
    this.prefetchAfter(partNumber);
    return found.url;
  }

  /** Sign the first batch now, while Uppy is still busy creating the upload. */
  warm(): void {
    if (this.signing === null && !this.fresh(1)) this.fill(1).catch(() => {});
  }

  private fresh(partNumber: number): { url: string; expiresAt: number } | undefined {
    const known = this.urls.get(partNumber);
    return known !== undefined && known.expiresAt - this.now() > this.policy.renewBeforeMs
      ? known
      : undefined;
  }

  /** Sign `from` and the following parts that have no fresh URL, up to one batch. */
  private fill(from: number): Promise<void> {
    const numbers: number[] = [];
    for (let n = from; n <= this.partCount && numbers.length < this.policy.batch; n += 1) {
      if (!this.fresh(n)) numbers.push(n);
    }
    const run = (async () => {
      if (numbers.length === 0) return;
      for (const part of await this.sign(numbers)) {
        this.urls.set(part.part_number, { url: part.url, expiresAt: Date.parse(part.expires_at) });
      }
    })();
    // Who waits on `signing` only needs to know it ended; `run`'s caller sees its error.
    const tracked: Promise<void> = run
      .catch(() => {})
      .finally(() => {
        if (this.signing === tracked) this.signing = null;
      });
    this.signing = tracked;
    return run;
  }

  private prefetchAfter(partNumber: number): void {
    const ahead = partNumber + Math.ceil(this.policy.batch / 2);
    if (this.signing !== null || ahead > this.partCount || this.fresh(ahead)) return;
    let first = partNumber + 1;
    while (first <= this.partCount && this.fresh(first)) first += 1;
    // A failed prefetch is not an error: the part's own request signs again and reports it.
    this.fill(first).catch(() => {});
  }
}
