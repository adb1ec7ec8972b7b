/**
 * Part URLs of one multipart session, signed in batches and handed out one at a time.
 *
 * `@uppy/aws-s3` asks for one part URL right before it sends that part; Intake signs many per
 * call. Each URL is served only while it has more than `renewBeforeMs` left, so a URL is signed
 * again before it expires, never first found stale by a 403. The next batch is asked for while
 * half of the current one is still unsent, so a file's parts do not wait on signing.
 *
 * With per-part checksums (`hashPart`), a part is signed with its checksum, so the URL makes S3
 * refuse other bytes. Signing a batch starts hashing its parts (a hash-ahead, in the worker
 * pool, while earlier parts are sent); the batch waits for its first part's checksum only, and
 * the others join once hashed. A part asked for again after its URL was handed out is being
 * retried (S3 refused it, or its upload was paused or resumed): it is read, hashed and signed
 * anew, never sent again with the checksum of bytes S3 may have refused.
 */

import { settableHeaders } from "../transfer.js";

export interface SignedUrl {
  readonly part_number: number;
  readonly url: string;
  readonly expires_at: string;
  /** What the PUT must send: the part's signed checksum header when it has one. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Signs `partNumbers`; `checksums` (base64, aligned with them) when the session declared one. */
export type SignParts = (
  partNumbers: readonly number[],
  checksums: readonly string[] | null,
) => Promise<readonly SignedUrl[]>;

/** The checksum of one part's bytes as they are now, base64 in the session's algorithm. */
export type HashPart = (partNumber: number) => Promise<string>;

export interface PartUrlPolicy {
  /** Part numbers per signing call (the gateway takes up to 100). */
  readonly batch: number;
  /** A URL with less than this left is signed again before it is used. */
  readonly renewBeforeMs: number;
}

/** Where to send one part and the headers the URL signed. */
export interface PartTarget {
  readonly url: string;
  readonly headers: Record<string, string>;
}

interface Signed {
  readonly url: string;
  readonly expiresAt: number;
  readonly headers: Readonly<Record<string, string>>;
}

export class PartUrls {
  private readonly urls = new Map<number, Signed>();
  private readonly hashing = new Map<number, Promise<string>>();
  private readonly hashed = new Map<number, string>();
  private readonly handedOut = new Set<number>();
  private signing: Promise<void> | null = null;

  constructor(
    private readonly sign: SignParts,
    private readonly partCount: number,
    private readonly policy: PartUrlPolicy,
    private readonly now: () => number = Date.now,
    private readonly hashPart: HashPart | null = null,
  ) {}

  /** A URL for `partNumber` with time to spare, signing it (and the parts after it) if needed. */
  async url(partNumber: number): Promise<PartTarget> {
    if (partNumber < 1 || partNumber > this.partCount) {
      throw new RangeError(`part ${partNumber} is outside 1…${this.partCount}`);
    }
    if (this.hashPart !== null && this.handedOut.has(partNumber)) this.forget(partNumber);
    if (this.signing !== null && !this.fresh(partNumber)) await this.signing;
    if (!this.fresh(partNumber)) await this.fill(partNumber);
    const found = this.fresh(partNumber);
    if (found === undefined) throw new Error(`Intake signed no URL for part ${partNumber}`);
    this.handedOut.add(partNumber);
    this.prefetchAfter(partNumber);
    return { url: found.url, headers: { ...found.headers } };
  }

  /**
   * Sign the first batch now, while Uppy is still busy creating the upload. Not with checksums:
   * hashing every initiated file's first parts at once would queue ahead of the parts of the
   * files Uppy sends first; their hashing starts with their first part's URL.
   */
  warm(): void {
    if (this.hashPart === null && this.signing === null && !this.fresh(1)) this.fill(1).catch(() => {});
  }

  private fresh(partNumber: number): Signed | undefined {
    const known = this.urls.get(partNumber);
    return known !== undefined && known.expiresAt - this.now() > this.policy.renewBeforeMs
      ? known
      : undefined;
  }

  /** A retried part: its URL, checksum and any hashing of its earlier bytes are dropped. */
  private forget(partNumber: number): void {
    this.urls.delete(partNumber);
    this.hashing.delete(partNumber);
    this.hashed.delete(partNumber);
  }

  /** The part's checksum, hashed once (until the part is retried). */
  private checksumOf(hashPart: HashPart, partNumber: number): Promise<string> {
    const known = this.hashing.get(partNumber);
    if (known !== undefined) return known;
    const pending = hashPart(partNumber);
    this.hashing.set(partNumber, pending);
    pending.then(
      (checksum) => {
        if (this.hashing.get(partNumber) === pending) this.hashed.set(partNumber, checksum);
      },
      () => {
        if (this.hashing.get(partNumber) === pending) this.hashing.delete(partNumber);
      },
    );
    return pending;
  }

  /** Sign `from` and the following parts that have no fresh URL, up to one batch. */
  private fill(from: number): Promise<void> {
    const numbers: number[] = [];
    for (let n = from; n <= this.partCount && numbers.length < this.policy.batch; n += 1) {
      if (!this.fresh(n)) numbers.push(n);
    }
    const hashPart = this.hashPart;
    // The hash-ahead: every part of this batch starts hashing now, first asked first hashed.
    const pending = hashPart === null ? [] : numbers.map((n) => this.checksumOf(hashPart, n));
    pending.slice(1).forEach((hashing) => hashing.catch(() => {})); // its own signing reports it
    const run = (async () => {
      const first = numbers[0];
      if (first === undefined) return;
      let wanted = numbers;
      let checksums: string[] | null = null;
      if (hashPart !== null) {
        const own = await (pending[0] as Promise<string>);
        wanted = [first, ...numbers.slice(1).filter((n) => this.hashed.has(n))];
        checksums = wanted.map((n) => (n === first ? own : (this.hashed.get(n) as string)));
      }
      const sent = new Map(wanted.map((n, index) => [n, checksums?.[index]]));
      for (const part of await this.sign(wanted, checksums)) {
        // A part retried while this call was out was hashed anew: this URL signs its old bytes.
        const checksum = sent.get(part.part_number);
        if (checksums !== null && (checksum === undefined || this.hashed.get(part.part_number) !== checksum)) continue;
        this.urls.set(part.part_number, {
          url: part.url,
          expiresAt: Date.parse(part.expires_at),
          headers: settableHeaders(part.headers ?? {}),
        });
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
