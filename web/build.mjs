// Builds the package (dist/: ESM, type declarations, the hashing worker) and Intake's own page
// (the gateway's static folder). `--package` or `--page` builds one; `--tests` bundles the
// unit tests for node.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const staticDir = `${here}../services/gateway/src/intake_gateway/static`;
const dist = `${here}dist`;
const only = (flag) => process.argv.includes(flag);

// The package's entry points: exports "." and, once web/src/uppy/index.ts exists, "./uppy".
const ENTRIES = { index: `${here}src/index.ts` };
if (existsSync(`${here}src/uppy/index.ts`)) ENTRIES["uppy/index"] = `${here}src/uppy/index.ts`;

async function buildPackage() {
  await rm(dist, { recursive: true, force: true });
  await build({
    entryPoints: ENTRIES,
    outdir: dist,
    bundle: true,
    splitting: true, // the Uppy plugin and the core share one copy of the core
    chunkNames: "[name]-[hash]", // beside index.js, so `./hash-worker.js` resolves from a chunk too
    packages: "external", // dependencies stay imports; the host's bundler resolves them
    format: "esm",
    platform: "neutral",
    target: "es2022",
    logLevel: "warning",
  });
  await buildWorker(dist, false);
  execFileSync(`${here}node_modules/.bin/tsc`, ["-p", `${here}tsconfig.build.json`], { stdio: "inherit" });
}

/** The worker is served as a file of its own, so it carries its dependencies inside. */
function buildWorker(outdir, minify) {
  return build({
    entryPoints: { "hash-worker": `${here}src/hash-worker.ts` },
    outdir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: minify ? "chrome110" : "es2022",
    minify,
    logLevel: "warning",
  });
}

async function buildPage() {
  await rm(staticDir, { recursive: true, force: true });
  await mkdir(staticDir, { recursive: true });
  await build({
    entryPoints: { app: `${here}page/page.ts` },
    outdir: staticDir,
    bundle: true,
    format: "esm",
    target: "chrome110",
    minify: true,
    sourcemap: true,
    logLevel: "warning",
  });
  await buildWorker(staticDir, true);
  await copyFile(`${here}index.html`, `${staticDir}/index.html`);
  await copyFile(`${here}style.css`, `${staticDir}/style.css`);
}

async function buildTests() {
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
}

if (only("--tests")) await buildTests();
else if (only("--package")) await buildPackage();
else if (only("--page")) await buildPage();
else await Promise.all([buildPackage(), buildPage()]);
