"""Server-side copies: one CopyObject (on a presigned URL first, botocore when that does not
settle it), or the parts of a multipart copy and the byte ranges they cover. The store
(store.py) opens and completes the multipart upload around the parts."""

import asyncio
from typing import Any

from intake_runtime.storage.s3.objects import CopiedPart, unquoted
from intake_runtime.storage.s3.presigned import PresignedRequests

MULTIPART_COPY_PART_SIZE = 512 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000

# A copy's replaced metadata, as botocore names it and as the direct request's headers spell it.
_COPY_HEADERS = {
    "MetadataDirective": "x-amz-metadata-directive",
    "ContentType": "content-type",
    "ContentDisposition": "content-disposition",
}


def copy_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, first byte, last byte) of a multipart copy of `size` bytes.

    The part size is raised when needed so that no copy has more than 10,000 parts.
    """
    part_size = max(MIN_PART_SIZE, part_size, -(-size // MAX_PARTS))
    return [
        (number, first, min(first + part_size, size) - 1)
        for number, first in enumerate(range(0, size, part_size), start=1)
    ]


def _source_owners(owner: dict[str, str]) -> dict[str, str]:
    """The expected owner of the target bucket and, the same account, of the source's."""
    if not owner:
        return {}
    return {**owner, "ExpectedSourceBucketOwner": owner["ExpectedBucketOwner"]}


def _source_condition(if_match: str | None) -> dict[str, str]:
    return {"CopySourceIfMatch": f'"{if_match}"'} if if_match else {}


class Copies:
    """The copy requests of one client, on one expected bucket owner."""

    def __init__(self, client: Any, presigned: PresignedRequests, owner: dict[str, str]) -> None:
        self._client = client
        self._presigned = presigned
        self._owner = owner

    async def copy_object(
        self,
        bucket: str,
        source_key: str,
        target_key: str,
        *,
        replaced: dict[str, str],
        if_match: str | None,
        if_none_match: bool,
    ) -> None:
        """One CopyObject; `replaced`: the metadata it replaces (none keeps the source's)."""
        headers = {
            **({"x-amz-copy-source-if-match": f'"{if_match}"'} if if_match else {}),
            **({"if-none-match": "*"} if if_none_match else {}),
            **{_COPY_HEADERS[name]: value for name, value in replaced.items()},
        }
        if await self._presigned.copy(bucket, source_key, target_key, headers):
            return
        await self._client.copy_object(
            Bucket=bucket,
            Key=target_key,
            CopySource={"Bucket": bucket, "Key": source_key},
            **_source_condition(if_match),
            **({"IfNoneMatch": "*"} if if_none_match else {}),
            **replaced,
            **_source_owners(self._owner),
        )

    async def copy_parts(
        self,
        bucket: str,
        source_key: str,
        target_key: str,
        upload_id: str,
        *,
        ranges: list[tuple[int, int, int]],
        concurrency: int,
        if_match: str | None,
    ) -> list[tuple[int, str]]:
        """UploadPartCopy of each range into the open upload, `concurrency` at a time; the
        (part number, ETag) list that completes it."""
        gate = asyncio.Semaphore(max(1, concurrency))

        async def copy_part(number: int, first: int, last: int) -> CopiedPart:
            async with gate:
                answer = await self._client.upload_part_copy(
                    Bucket=bucket,
                    Key=target_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": bucket, "Key": source_key},
                    CopySourceRange=f"bytes={first}-{last}",
                    **_source_condition(if_match),
                    **_source_owners(self._owner),
                )
            return CopiedPart(number, unquoted(answer["CopyPartResult"]["ETag"]))

        copied = await asyncio.gather(*(copy_part(*part) for part in ranges))
        return sorted((part.part_number, part.etag) for part in copied)
