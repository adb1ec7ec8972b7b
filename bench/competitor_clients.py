"""Upload clients of the competitors, each run as a process of its own so that every end-to-end
figure runs from exec to exit, as `intake upload` and boto3's script do.

    python -m bench.competitor_clients companion URL FILE [--parallel 4] [--part-mib 8]
    python -m bench.competitor_clients tusd URL FILE

Companion's client does what Uppy's AwsS3 plugin does against Companion's S3 multipart
endpoints (create, sign each part, PUT the parts straight to S3, complete), moving the bytes
with the same code as Intake's client (intake_client.transfer.put_range over its standard
library Storage) so that only the server side differs. The tus client does what tus-js-client
does by default: create, then one streaming PATCH of the whole file.
"""

import argparse
import asyncio
import http.client
import json
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from intake_client.storage import Storage
from intake_client.transfer import put_range

MiB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


async def companion_upload(base: str, path: Path, size: int, parallel: int, part_size: int) -> None:
    s3 = Storage(timeout_s=120)
    async with httpx.AsyncClient(base_url=base, timeout=120) as api:
        created = await api.post(
            "/s3/multipart",
            json={"filename": path.name, "type": "application/octet-stream", "metadata": {}},
        )
        created.raise_for_status()
        upload_id, key = created.json()["uploadId"], created.json()["key"]
        quoted_id, query = urllib.parse.quote(upload_id, safe=""), {"key": key}
        numbers = iter(range(1, (size + part_size - 1) // part_size + 1))
        etags: dict[int, str] = {}

        async def worker() -> None:
            for number in numbers:
                signed = await api.get(f"/s3/multipart/{quoted_id}/{number}", params=query)
                signed.raise_for_status()
                offset = (number - 1) * part_size
                length = min(part_size, size - offset)
                etags[number] = await put_range(s3, signed.json()["url"], path, offset, length)

        await asyncio.gather(*(worker() for _ in range(parallel)))
        parts = [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
        done = await api.post(
            f"/s3/multipart/{quoted_id}/complete", params=query, json={"parts": parts}
        )
        done.raise_for_status()
        print(json.dumps({"key": key}))
    s3.close()


def tus_upload(base: str, path: Path, block: int = MiB) -> None:
    size = path.stat().st_size
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, blocksize=block)
    connection.request("POST", "/files/", headers={**TUS, "Upload-Length": str(size)})
    created = connection.getresponse()
    created.read()
    if created.status != 201:
        raise RuntimeError(f"tusd create answered {created.status}")
    location = urllib.parse.urlsplit(created.headers["Location"]).path
    headers: dict[str, Any] = {**TUS, "Upload-Offset": "0", "Content-Length": str(size)}
    headers["Content-Type"] = "application/offset+octet-stream"
    with path.open("rb") as body:
        connection.request("PATCH", location, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
    if answer.status != 204:
        raise RuntimeError(f"tusd PATCH answered {answer.status}")
    print(json.dumps({"location": location}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("competitor", choices=("companion", "tusd"))
    parser.add_argument("url")
    parser.add_argument("file", type=Path)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--part-mib", type=int, default=8)
    args = parser.parse_args()
    if args.competitor == "companion":
        size, part = args.file.stat().st_size, args.part_mib * MiB
        asyncio.run(companion_upload(args.url, args.file, size, args.parallel, part))
    else:
        tus_upload(args.url, args.file)


if __name__ == "__main__":
    main()
