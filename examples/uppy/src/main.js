// A host app's whole integration: Uppy's Dashboard, Golden Retriever, and Intake.
// Settings come from the page's address: ?endpoint=<gateway>&brand=<brand id>#token=<JWT>;
// ?checksum=none turns off the per-part checksum (default CRC32C); ?companion=<url> runs the
// same Uppy against Uppy Companion instead (bench/uppy.py).
import AwsS3 from "@uppy/aws-s3";
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import GoldenRetriever from "@uppy/golden-retriever";
import Intake from "@intake/uploader/uppy";
import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";

const params = new URLSearchParams(location.search);
const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
const companion = params.get("companion");
const checksum = params.get("checksum") === "none" ? null : "CRC32C";

const uppy = new Uppy({ id: "intake-example" })
  .use(Dashboard, { inline: true, target: "#uppy", proudlyDisplayPoweredByUppy: false })
  .use(GoldenRetriever);
if (companion) {
  uppy.use(AwsS3, {
    companionEndpoint: companion,
    shouldUseMultipart: (file) => file.size >= 5 * 1024 * 1024,
    getChunkSize: () => Number(params.get("chunk") ?? 8 * 1024 * 1024),
  });
} else {
  uppy.use(Intake, {
    endpoint: params.get("endpoint") ?? location.origin,
    getToken: async () => token,
    brandId: params.get("brand") ?? "",
    checksumAlgorithm: checksum,
    // The package's worker, copied beside this bundle by build.mjs: a bundler does not follow
    // the package's own `new URL("../hash-worker.js", import.meta.url)`.
    workerUrl: new URL("hash-worker.js", import.meta.url),
  });
}

// For the browser tests and the benchmark: the same Uppy, readable from outside.
window.uppy = uppy;
