"""The object store: the S3 operations Intake performs, over one long-lived aioboto3 client.

Only this package speaks botocore: callers get typed results (objects.py) and our errors
(errors.py). Bodiless requests and single copies go out on presigned URLs first
(presigned.py); a bucket is made ready on first use (buckets.py); the copy requests are in
copies.py; cleanup's listings and batched deletes are in bulk.py; client.py opens the store
from settings.
"""

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import aiohttp

from intake_runtime.settings import S3Settings
from intake_runtime.storage.s3 import bulk, copies
from intake_runtime.storage.s3.buckets import Buckets
from intake_runtime.storage.s3.errors import (
    BOTO_ERRORS,
    ObjectNotFoundError,
    UploadNotFoundError,
    s3_errors,
    translated,
)
from intake_runtime.storage.s3.objects import (
    CHECKSUM_ALGORITHMS,
    CompletedUpload,
    DeleteFailure,
    MultipartUpload,
    ObjectHead,
    OpenedUpload,
    StoredObject,
    StoredPart,
    checksum_headers,
    checksums_of,
    head_of,
    unquoted,
)
from intake_runtime.storage.s3.presigned import PresignedRequests


class ObjectStore:
    def __init__(
        self,
        client: Any,
        settings: S3Settings,
        credentials: Any = None,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        """`credentials`: the client's (aiobotocore) credentials, to presign without botocore;
        `http`: a session for HEAD, DELETE and copies sent directly on presigned URLs."""
        self._client = client
        self._settings = settings
        self._credentials = credentials
        self._http = http
        # With an expected owner, S3 refuses any call on a bucket another account owns.
        self._owner: dict[str, str] = (
            {"ExpectedBucketOwner": settings.aws_expected_bucket_owner}
            if settings.aws_expected_bucket_owner
            else {}
        )
        self._buckets = Buckets(client, settings, self._owner)
        self._presigned = PresignedRequests(client, credentials, http, self._owner)
        self._copies = copies.Copies(client, self._presigned, self._owner)

    async def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket on first use (per-tenant strategy) and give it the browser CORS
        rule; remembered once seen."""
        await self._buckets.ensure(bucket)

    async def presign_put(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        content_length: int,
        expires_s: int,
        checksum: tuple[str, str] | None = None,
    ) -> str:
        """`checksum`: (algorithm, base64 value) to sign, so S3 refuses other bytes (BadDigest)."""
        # Signing Content-Type and Content-Length makes S3 refuse any other body.
        return await self._presigned.url(
            "put_object",
            {"Bucket": bucket, "Key": key, "ContentType": content_type},
            content_length=content_length,
            expires_s=expires_s,
            headers={"content-type": content_type, **checksum_headers(checksum)},
        )

    async def presign_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        content_length: int,
        expires_s: int,
        checksum: tuple[str, str] | None = None,
    ) -> str:
        """`checksum`: (algorithm, base64 value) of the part to sign, as in `presign_put`."""
        # Signing the part's exact Content-Length stops a client putting 5 GiB into any part.
        return await self._presigned.url(
            "upload_part",
            {"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
            content_length=content_length,
            expires_s=expires_s,
            headers=checksum_headers(checksum),
            params=[("uploadId", upload_id), ("partNumber", str(part_number))],
        )

    @s3_errors()
    async def create_multipart(
        self,
        bucket: str,
        key: str,
        content_type: str,
        *,
        content_disposition: str | None = None,
        checksum_algorithm: str | None = None,
        checksum_type: str | None = None,
    ) -> OpenedUpload:
        """`checksum_algorithm` (and `checksum_type`, FULL_OBJECT or COMPOSITE): S3 then keeps
        each part's checksum and the object's. `content_disposition`: how the object is served."""
        extra: dict[str, str] = {}
        if content_disposition:
            extra["ContentDisposition"] = content_disposition
        if checksum_algorithm:
            extra["ChecksumAlgorithm"] = checksum_algorithm
            if checksum_type:
                extra["ChecksumType"] = checksum_type
        answer = await self._client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, **extra, **self._owner
        )
        return OpenedUpload(key=key, upload_id=str(answer["UploadId"]))

    @s3_errors(missing=UploadNotFoundError)
    async def list_parts(self, bucket: str, key: str, upload_id: str) -> list[StoredPart]:
        """Every uploaded part, across all pages, in part-number order.

        Raises:
            UploadNotFoundError: the upload was completed or aborted.
        """
        parts: list[StoredPart] = []
        marker = 0
        while True:
            page = await self._client.list_parts(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumberMarker=marker,
                **self._owner,
            )
            parts.extend(
                StoredPart(
                    int(p["PartNumber"]), int(p["Size"]), unquoted(p["ETag"]), checksums_of(p)
                )
                for p in page.get("Parts", [])
            )
            if not page.get("IsTruncated"):
                return sorted(parts, key=lambda part: part.part_number)
            marker = int(page["NextPartNumberMarker"])

    @s3_errors(missing=UploadNotFoundError)
    async def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: tuple[str, Mapping[int, str]] | None = None,
        if_none_match: bool = False,
    ) -> CompletedUpload:
        """`checksums`: (algorithm, each part's base64 checksum by part number) to name in the
        part list, as a COMPOSITE upload requires (S3 checks them against the parts').
        `if_none_match`: only when no object is at `key` yet (If-None-Match: *).

        Raises:
        UploadNotFoundError: already completed or aborted.
        PartsRejectedError: S3 refused the part list.
        ChecksumRejectedError: a part's checksum is not the one S3 kept (BadDigest).
        PreconditionFailedError: `if_none_match` and an object is there.
        """
        condition = {"IfNoneMatch": "*"} if if_none_match else {}
        field, by_number = (f"Checksum{checksums[0]}", checksums[1]) if checksums else ("", {})
        answer = await self._client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {
                        "PartNumber": number,
                        "ETag": f'"{etag}"',
                        **({field: by_number[number]} if number in by_number else {}),
                    }
                    for number, etag in parts
                ]
            },
            **condition,
            **self._owner,
        )
        return CompletedUpload(key=key, etag=unquoted(answer.get("ETag", "")))

    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> bool:
        """True when aborted now, False when S3 no longer knew the upload."""
        try:
            await self._abort(bucket, key, upload_id)
        except UploadNotFoundError:
            return False
        return True

    @s3_errors(missing=UploadNotFoundError)
    async def _abort(self, bucket: str, key: str, upload_id: str) -> None:
        await self._client.abort_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, **self._owner
        )

    async def head(self, bucket: str, key: str, *, checksums: bool = False) -> ObjectHead | None:
        """The object's metadata, or None when it does not exist; `checksums` asks S3 for the
        checksums it stored with the object, where it has any."""
        asked = {"x-amz-checksum-mode": "ENABLED"} if checksums else {}
        direct = await self._presigned.send("HEAD", bucket, key, asked)
        if direct is not None:
            status, headers = direct
            return head_of(headers) if status == HTTPStatus.OK else None
        try:
            return await self._head(bucket, key, checksums=checksums)
        except ObjectNotFoundError:
            return None

    @s3_errors()
    async def _head(self, bucket: str, key: str, *, checksums: bool) -> ObjectHead:
        extra = {"ChecksumMode": "ENABLED"} if checksums else {}
        answer = await self._client.head_object(Bucket=bucket, Key=key, **extra, **self._owner)
        return ObjectHead(
            size=int(answer["ContentLength"]),
            content_type=answer.get("ContentType"),
            etag=unquoted(answer.get("ETag", "")),
            last_modified=answer.get("LastModified"),
            checksum_sha256=answer.get("ChecksumSHA256"),
            checksum_type=answer.get("ChecksumType"),
            checksums={
                name: str(answer[f"Checksum{name}"])
                for name in CHECKSUM_ALGORITHMS
                if answer.get(f"Checksum{name}")
            },
        )

    async def delete(self, bucket: str, key: str) -> None:
        """Delete the object; no object there counts as deleted."""
        if await self._presigned.send("DELETE", bucket, key, {}) is None:
            await self._delete(bucket, key)

    @s3_errors()
    async def _delete(self, bucket: str, key: str) -> None:
        await self._client.delete_object(Bucket=bucket, Key=key, **self._owner)

    async def delete_many(self, bucket: str, keys: Sequence[str]) -> list[DeleteFailure]:
        """Delete `keys` with DeleteObjects, up to 1,000 a request; the keys left, each with
        why (bulk.delete_many)."""
        return await bulk.delete_many(self._client, self._owner, bucket, keys)

    @s3_errors()
    async def stream(
        self, bucket: str, key: str, chunk_size: int = 8 * 1024 * 1024
    ) -> AsyncIterator[bytes]:
        """The object's bytes in chunks.

        Raises:
            ObjectNotFoundError: no object at `key`.
        """
        answer = await self._client.get_object(Bucket=bucket, Key=key, **self._owner)
        return _chunks(answer["Body"], chunk_size)

    @s3_errors()
    async def copy(
        self,
        bucket: str,
        source_key: str,
        target_key: str,
        size: int,
        threshold: int,
        *,
        content_type: str = "application/octet-stream",
        content_disposition: str | None = None,
        part_size: int = copies.MULTIPART_COPY_PART_SIZE,
        concurrency: int = 1,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> None:
        """Server-side copy; above `threshold` bytes a multipart copy (one copy stops at 5 GiB)
        whose parts are copied `concurrency` at a time.

        A single copy keeps the source's Content-Type, unless `content_disposition` is given:
        then it replaces the metadata with `content_type` and that disposition; a multipart
        copy sets both. `if_match`: copy only while the source's ETag is this one
        (CopySourceIfMatch, on every part); `if_none_match`: write only when no object is at
        `target_key` (If-None-Match: *).

        Raises:
            ObjectNotFoundError: no object at `source_key`.
            PreconditionFailedError: a condition refused.
        """
        if size <= threshold:
            replaced = (
                {
                    "MetadataDirective": "REPLACE",
                    "ContentType": content_type,
                    "ContentDisposition": content_disposition,
                }
                if content_disposition
                else {}
            )
            await self._copies.copy_object(
                bucket,
                source_key,
                target_key,
                replaced=replaced,
                if_match=if_match,
                if_none_match=if_none_match,
            )
            return
        upload = await self.create_multipart(
            bucket, target_key, content_type, content_disposition=content_disposition
        )
        try:
            parts = await self._copies.copy_parts(
                bucket,
                source_key,
                target_key,
                upload.upload_id,
                ranges=copies.copy_ranges(size, part_size),
                concurrency=concurrency,
                if_match=if_match,
            )
            await self.complete_multipart(
                bucket, target_key, upload.upload_id, parts, if_none_match=if_none_match
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self.abort_multipart(bucket, target_key, upload.upload_id)
            raise

    async def abort_uploads_of(self, bucket: str, key: str) -> int:
        """Abort every multipart upload still open on exactly `key`; how many were aborted.

        A copy interrupted by a crash leaves its multipart upload behind; the retry clears it.
        """
        stale = [
            upload
            async for page in self.iter_multipart_uploads(bucket, key)
            for upload in page
            if upload.key == key
        ]
        aborted = 0
        for upload in stale:
            aborted += await self.abort_multipart(bucket, key, upload.upload_id)
        return aborted

    def iter_objects(self, bucket: str, prefix: str) -> AsyncIterator[list[StoredObject]]:
        """Pages of objects under `prefix`, every page."""
        return bulk.iter_objects(self._client, self._owner, bucket, prefix)

    def iter_multipart_uploads(
        self, bucket: str, prefix: str = ""
    ) -> AsyncIterator[list[MultipartUpload]]:
        """Pages of in-progress multipart uploads (bulk.iter_multipart_uploads)."""
        return bulk.iter_multipart_uploads(self._client, self._owner, bucket, prefix)

    async def list_buckets(self, prefix: str = "") -> list[str]:
        """Names of the buckets these credentials see, starting with `prefix`."""
        return await bulk.list_buckets(self._client, prefix)


async def _chunks(body: Any, chunk_size: int) -> AsyncIterator[bytes]:
    try:
        async with body:
            while chunk := await body.read(chunk_size):
                yield chunk
    except BOTO_ERRORS as error:  # a connection dropped mid-body
        raise translated(error, ObjectNotFoundError) from error
