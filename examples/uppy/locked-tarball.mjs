// Keeps package-lock.json's integrity of the packed @intake/uploader (vendor/) equal to the
// tarball's. web/ changes change the tarball; npm ci would then refuse it, or install the old
// one from its cache (npm looks packages up by integrity). The pack is reproducible, so on a
// fresh clone the committed integrity already matches and nothing is written.
//   node locked-tarball.mjs           exit 1 when the lock is stale
//   node locked-tarball.mjs --write   write the tarball's integrity into the lock
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const lockPath = `${here}package-lock.json`;
const text = await readFile(lockPath, "utf8");
const lock = JSON.parse(text);
const entry = lock.packages["node_modules/@intake/uploader"];
const tarball = await readFile(`${here}${entry.resolved.replace(/^file:/, "")}`);
const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
if (entry.integrity === integrity) process.exit(0);
if (!process.argv.includes("--write")) process.exit(1);
await writeFile(lockPath, text.replace(entry.integrity, integrity));
console.log(`examples/uppy/package-lock.json: @intake/uploader is now ${integrity} (commit it)`);
