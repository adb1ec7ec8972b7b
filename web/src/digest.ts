/** Checksums of a Blob as S3 spells them. CRC32C (the default) is read as a stream through
 * hash-wasm's incremental CRC32C, so memory stays bounded and the part is read once, in chunks;
 * SHA-256 uses the platform's native WebCrypto for a part-sized Blob (read whole, one call),
 * else hash-wasm slice by slice (a large Blob, or no `crypto.subtle` outside a secure context).
 *
 * Why CRC32C by default: reading a picked file's part into the page costs the browser about as
 * much as hashing it, and streaming it through a CRC costs a third less than reading it whole
 * for WebCrypto's SHA-256; the store verifies a CRC32C cheaper than a SHA-256 too. hash-wasm
 * runs WebAssembly, which a Content-Security-Policy allows with 'wasm-unsafe-eval'. */

import { createCRC32, createSHA256 } from "hash-wasm";

const SLICE = 4 * 1024 * 1024;
// Above this a Blob is hashed incrementally: WebCrypto has no streaming digest, and reading a
// whole large Blob into memory is what slicing avoids. Parts are 8 MiB unless a file is huge.
const ONE_CALL_LIMIT = 64 * 1024 * 1024;
// CRC32C's (Castagnoli's) reversed polynomial, as hash-wasm takes it.
const CASTAGNOLI = 0x82f63b78;

export type DigestEncoding = "hex" | "base64";
export type DigestAlgorithm = "SHA256" | "CRC32C";

export async function sha256Of(blob: Blob, oneCallLimit = ONE_CALL_LIMIT): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle !== undefined && blob.size <= oneCallLimit) {
    return new Uint8Array(await subtle.digest("SHA-256", await blob.arrayBuffer()));
  }
  const hash = await createSHA256();
  for (let start = 0; start < blob.size; start += SLICE) {
    hash.update(new Uint8Array(await blob.slice(start, start + SLICE).arrayBuffer()));
  }
  return hash.digest("binary");
}

/** CRC32C, big-endian (S3's `x-amz-checksum-crc32c` bytes). */
export async function crc32cOf(blob: Blob): Promise<Uint8Array> {
  // An instance per Blob: hashes in place on the page may interleave at each chunk.
  const crc = await createCRC32(CASTAGNOLI);
  const reader = blob.stream().getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) crc.update(chunk.value);
  return crc.digest("binary");
}

/** Base64 as S3 spells `x-amz-checksum-*`; hex as `checksum_sha256` at initiation. */
export function encode(digest: Uint8Array, encoding: DigestEncoding): string {
  if (encoding === "hex") return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export async function digestOf(blob: Blob, encoding: DigestEncoding, algorithm: DigestAlgorithm = "SHA256"): Promise<string> {
  return encode(algorithm === "CRC32C" ? await crc32cOf(blob) : await sha256Of(blob), encoding);
}
