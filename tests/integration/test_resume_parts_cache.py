"""A session's parts listing answers `resume` again for a short while, against real S3: it
may miss a part uploaded since, never names one that is gone, and is forgotten on abort."""

from dataclasses import replace
from typing import Any

import httpx
import pytest

from intake_initiation import domain
from intake_initiation.storage import S3SessionStorage
from intake_runtime.storage.s3 import UploadNotFoundError, open_object_store
from tests.integration.test_initiation_service import settings_for
from tests.support.contracts.initiation import new_session

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def put_part(storage: S3SessionStorage, session: domain.Session, number: int) -> None:
    body = bytes([number]) * (5 * MiB)
    url = await storage.presign_part(session, number, content_length=len(body), expires_s=60)
    async with httpx.AsyncClient(timeout=60) as raw:
        assert (await raw.put(url, content=body)).status_code == 200


async def test_a_listing_is_remembered_briefly_and_forgotten_on_abort(
    stack_env: dict[str, str], s3: Any
) -> None:
    settings = settings_for(stack_env)
    clock = Clock()
    async with open_object_store(settings) as store:
        storage = S3SessionStorage(store, parts_cache_s=2.0, clock=clock)
        draft = replace(
            new_session(size=20 * MiB, bucket=stack_env["AWS_BUCKET"]),
            upload_type=domain.UploadType.MULTIPART,
            chunk_size=8 * MiB,
            part_count=3,
        )
        session = domain.opened(draft, await storage.open(draft))
        await put_part(storage, session, 1)
        assert [part.part_number for part in await storage.uploaded_parts(session)] == [1]

        await put_part(storage, session, 2)
        remembered = await storage.uploaded_parts(session)
        assert [part.part_number for part in remembered] == [1]  # the listing of a moment ago

        clock.now += 2.0
        assert [part.part_number for part in await storage.uploaded_parts(session)] == [1, 2]

        await storage.abort_upload(session)
        with pytest.raises(UploadNotFoundError):  # forgotten: asked of S3 again, which has none
            await storage.uploaded_parts(session)
