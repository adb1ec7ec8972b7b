// Bundles the page into the gateway's static folder; `--tests` bundles the unit tests for node.
import { build } from "esbuild";
import { copyFile, mkdir, readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const out = `${here}../services/gateway/src/intake_gateway/static`;

if (process.argv.includes("--tests")) {
  const tests = (await readdir(`${here}test`)).filter((name) => name.endsWith(".test.ts"));
  await build({
    entryPoints: tests.map((name) => `${here}test/${name}`),
    outdir: `${here}dist-tests`,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
} else {
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: { app: `${here}src/page.ts`, "sha256-worker": `${here}src/sha256-worker.ts` },
    outdir: out,
    bundle: true,
    format: "esm",
    target: "chrome110",
    minify: true,
    sourcemap: true,
    logLevel: "warning",
  });
  await copyFile(`${here}index.html`, `${out}/index.html`);
  await copyFile(`${here}style.css`, `${out}/style.css`);
}
