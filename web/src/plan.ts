/** Pure rules of the part plan: which byte range each part covers, what is left, batching. */

/** Below this size a file goes in one presigned PUT (the server's rule, 5 MiB). */
export const DIRECT_LIMIT = 5 * 1024 * 1024;

export interface PartRange {
  readonly partNumber: number;
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, exclusive. */
  readonly end: number;
}

/** The byte range of one part; every part is chunkSize long except the last. */
export function partRange(size: number, chunkSize: number, partNumber: number): PartRange {
  if (chunkSize <= 0 || partNumber < 1) throw new RangeError("bad part plan");
  const start = (partNumber - 1) * chunkSize;
  if (start >= size && !(size === 0 && partNumber === 1)) {
    throw new RangeError(`part ${partNumber} lies beyond the file`);
  }
  return { partNumber, start, end: Math.min(start + chunkSize, size) };
}

/** Part numbers not yet held by S3, in order: the only ones still to send. */
export function missingParts(partCount: number, done: ReadonlySet<number>): number[] {
  const missing: number[] = [];
  for (let number = 1; number <= partCount; number += 1) {
    if (!done.has(number)) missing.push(number);
  }
  return missing;
}

/** Items in consecutive groups of at most `size` (part signing takes ≤ 100 per request). */
export function batches<T>(items: readonly T[], size: number): T[][] {
  if (size < 1) throw new RangeError("batch size must be positive");
  const groups: T[][] = [];
  for (let index = 0; index < items.length; index += size) {
    groups.push(items.slice(index, index + size));
  }
  return groups;
}

/** Bytes of the parts in `done`, so resumed progress starts where S3 is. */
export function doneBytes(size: number, chunkSize: number, done: Iterable<number>): number {
  let total = 0;
  for (const number of done) {
    const range = partRange(size, chunkSize, number);
    total += range.end - range.start;
  }
  return total;
}
