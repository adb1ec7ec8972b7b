// Bundles the example into dist/: main.js, main.css (Uppy's styles), index.html and the
// package's hashing worker (a script of its own, hash-wasm inside), which main.js points at.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
await mkdir(`${here}dist`, { recursive: true });
await build({
  entryPoints: [`${here}src/main.js`],
  outdir: `${here}dist`,
  bundle: true,
  format: "esm",
  target: "chrome110",
  minify: true,
  logLevel: "warning",
});
await copyFile(`${here}index.html`, `${here}dist/index.html`);
await copyFile(fileURLToPath(import.meta.resolve("@intake/uploader/hash-worker.js")), `${here}dist/hash-worker.js`);
