// Bundles the example into dist/: main.js, main.css (Uppy's styles) and index.html.
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
