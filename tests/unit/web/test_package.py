"""@intake/uploader as a host app gets it: `npm pack` twice gives the same bytes, and the
tarball installs, imports under Node (no DOM, no IndexedDB, no storage) and type-checks."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

WEB = Path(__file__).resolve().parents[3] / "web"
NPM = shutil.which("npm") or "npm"
NODE = shutil.which("node") or "node"

HOST_APP = """
import { createUploader, type Completed, type UploadManager } from "@intake/uploader";

const uploader: UploadManager = createUploader({
  endpoint: "https://uploads.example.com",
  getToken: async () => "a.b.c",
  brandId: "brand-1",
});
uploader.on("completed", (done: Completed) => console.log(done.assetId));
uploader.on("progress", ({ bytes, total }) => console.log(bytes / total));
// @ts-expect-error: an event the package does not have is a type error
uploader.on("finished", () => undefined);
"""


# Run by node in the host project: importing and creating must not need a browser.
IMPORT_AND_CREATE = """
const m = await import('@intake/uploader');
const u = m.createUploader({endpoint: 'http://x', getToken: () => 't', brandId: 'b'});
console.log(JSON.stringify([typeof m.createUploader, typeof u.add, typeof u.on]));
u.destroy();
"""


def pack(into: Path) -> Path:
    into.mkdir()
    subprocess.run(
        [NPM, "pack", "--silent", "--pack-destination", str(into)],
        cwd=WEB,
        check=True,
        capture_output=True,
    )
    (tarball,) = into.glob("*.tgz")
    return tarball


def test_the_tarball_packs_reproducibly_installs_imports_without_a_browser_and_type_checks(
    tmp_path: Path,
) -> None:
    # One test, not two: under xdist two workers would pack (and rebuild dist/) at once.
    first, second = pack(tmp_path / "first"), pack(tmp_path / "second")
    assert first.name == "intake-uploader-0.1.0.tgz"
    assert (
        hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    )

    host = tmp_path / "host"
    host.mkdir()
    (host / "package.json").write_text(
        json.dumps({"name": "host", "private": True, "type": "module"})
    )
    subprocess.run(
        [
            NPM,
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            str(first),
        ],
        cwd=host,
        check=True,
        capture_output=True,
    )
    imported = subprocess.run(
        [
            NODE,
            "--input-type=module",
            "-e",
            IMPORT_AND_CREATE,
        ],
        cwd=host,
        check=True,
        capture_output=True,
        text=True,
    )
    assert json.loads(imported.stdout) == ["function", "function", "function"]

    (host / "app.ts").write_text(HOST_APP)
    tsconfig = {
        "compilerOptions": {
            "strict": True,
            "module": "ESNext",
            "moduleResolution": "Bundler",
            "target": "ES2022",
            "lib": ["ES2022", "DOM"],
            "types": [],
            "noEmit": True,
        },
        "files": ["app.ts"],
    }
    (host / "tsconfig.json").write_text(json.dumps(tsconfig))
    checked = subprocess.run(
        [str(WEB / "node_modules" / ".bin" / "tsc"), "-p", str(host)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
