"""Time of the orphaned-multipart cleanup job over 10,000 orphaned multipart uploads.

Creates N multipart uploads under `temp/uploads/{random uuid}/original` (no session knows them),
then runs the job once in-process with a 0-second age threshold and times the whole run:
listing every page, the index lookup, the aborts with their ListParts confirmations (32 at a
time by default) and the outbox insert of one ResidueRemoved event per abort.

    uv run python -m bench.cleanup_orphaned_multipart [--uploads 10000]
"""

import argparse
import asyncio
import time
import uuid
from typing import Any

from tests.support import stack

from bench.common import write
from intake_cleanup.app import open_service
from intake_cleanup.domain import Job
from intake_cleanup.settings import CleanupSettings
from intake_contracts.keys import TEMP_PREFIX, temp_key
from intake_runtime.storage.s3 import ObjectStore, open_object_store


async def create_orphans(store: ObjectStore, bucket: str, count: int, parallel: int) -> set[str]:
    semaphore = asyncio.Semaphore(parallel)

    async def one() -> str:
        async with semaphore:
            upload = await store.create_multipart(
                bucket, temp_key(uuid.uuid4()), "application/octet-stream"
            )
            return upload.upload_id

    return set(await asyncio.gather(*(one() for _ in range(count))))


async def still_listed(store: ObjectStore, bucket: str) -> set[str]:
    return {
        u.upload_id
        async for page in store.iter_multipart_uploads(bucket, TEMP_PREFIX)
        for u in page
    }


async def main(uploads: int, concurrency: int) -> dict[str, Any]:
    env: dict[str, Any] = dict(stack.native_env())
    env |= {
        "INTAKE_CLEANUP_SCHEDULE": "off",
        "INTAKE_ORPHAN_MULTIPART_AFTER_S": "0",
        "INTAKE_CLEANUP_S3_CONCURRENCY": str(concurrency),
    }
    settings = CleanupSettings.model_validate(env)
    async with open_object_store(settings) as store:
        started = time.perf_counter()
        created = await create_orphans(store, settings.aws_bucket, uploads, 64)
        create_s = time.perf_counter() - started
    async with open_service(settings) as (service, _):
        started = time.perf_counter()
        view = await service.run(Job.ORPHANED_MULTIPART)
        job_s = time.perf_counter() - started
    async with open_object_store(settings) as store:
        left = created & await still_listed(store, settings.aws_bucket)
    assert view.status == "ok", view.errors
    assert not left, f"{len(left)} of the created uploads survived"
    return {
        "uploads_created": len(created),
        "create_seconds": round(create_s, 2),
        "job_seconds": round(job_s, 2),
        "aborts_per_second": round(view.stats.get("aborted", 0) / job_s, 1),
        "abort_concurrency": concurrency,
        "job_stats": view.stats,
        "note": "job time covers listing, index lookup, abort + ListParts per upload, outbox",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    figures = asyncio.run(main(args.uploads, args.concurrency))
    print(figures)
    print(write("cleanup_orphaned_multipart", figures))
