/** SHA-256 of a Blob: the platform's native WebCrypto for a part-sized Blob (read whole, one
 * call), else @noble/hashes slice by slice so memory stays bounded (a large Blob, or no
 * `crypto.subtle` outside a secure context). */

import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

const SLICE = 4 * 1024 * 1024;
// Above this a Blob is hashed incrementally: WebCrypto has no streaming digest, and reading a
// whole large Blob into memory is what slicing avoids. Parts are 8 MiB unless a file is huge.
const ONE_CALL_LIMIT = 64 * 1024 * 1024;

export type DigestEncoding = "hex" | "base64";

export async function sha256Of(blob: Blob, oneCallLimit = ONE_CALL_LIMIT): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle !== undefined && blob.size <= oneCallLimit) {
    return new Uint8Array(await subtle.digest("SHA-256", await blob.arrayBuffer()));
  }
  const hash = sha256.create();
  for (let start = 0; start < blob.size; start += SLICE) {
    hash.update(new Uint8Array(await blob.slice(start, start + SLICE).arrayBuffer()));
  }
  return hash.digest();
}

/** Base64 as S3 spells `x-amz-checksum-sha256`; hex as `checksum_sha256` at initiation. */
export function encode(digest: Uint8Array, encoding: DigestEncoding): string {
  if (encoding === "hex") return bytesToHex(digest);
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export async function digestOf(blob: Blob, encoding: DigestEncoding): Promise<string> {
  return encode(await sha256Of(blob), encoding);
}
