/** Which file a stored upload belongs to: metadata plus hashes of its first and last MiB. */

const EDGE = 1024 * 1024;

export interface Fingerprint {
  readonly name: string;
  readonly size: number;
  readonly lastModified: number;
  readonly type: string;
  readonly head: string;
  readonly tail: string;
}

export interface FileLike extends Blob {
  readonly name: string;
  readonly lastModified: number;
}

async function sha256Hex(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Reads at most 2 MiB of the file, never all of it. */
export async function fingerprintOf(file: FileLike): Promise<Fingerprint> {
  const head = await sha256Hex(file.slice(0, EDGE));
  const tail = await sha256Hex(file.slice(Math.max(0, file.size - EDGE)));
  return {
    name: file.name,
    size: file.size,
    lastModified: file.lastModified,
    type: file.type,
    head,
    tail,
  };
}

/** Why `picked` is not the file of `stored`, or null when it is the same file. */
export function mismatch(stored: Fingerprint, picked: Fingerprint): string | null {
  if (stored.size !== picked.size) return `size differs (${picked.size} bytes, expected ${stored.size})`;
  if (stored.head !== picked.head || stored.tail !== picked.tail) return "content differs";
  if (stored.name !== picked.name) return `name differs ("${picked.name}", expected "${stored.name}")`;
  if (stored.lastModified !== picked.lastModified) return "modification time differs";
  if (stored.type !== picked.type) return "type differs";
  return null;
}
