"""What cleanup's jobs walk and remove in bulk: listings of objects, multipart uploads and
buckets, every page; DeleteObjects in batches."""

from collections.abc import AsyncIterator, Sequence
from typing import Any

from intake_runtime.storage.s3.errors import StorageError, StorageUnavailableError, s3_errors
from intake_runtime.storage.s3.objects import DeleteFailure, MultipartUpload, StoredObject

# S3's most keys in one DeleteObjects request.
DELETE_BATCH = 1000


async def delete_many(
    client: Any, owner: dict[str, str], bucket: str, keys: Sequence[str]
) -> list[DeleteFailure]:
    """Delete `keys` with DeleteObjects, up to 1,000 a request; the keys left, each with
    why. A key with no object counts as deleted, as with `delete`. A request that fails as
    a whole (S3 down) fails its keys only: the other requests still run."""
    failures: list[DeleteFailure] = []
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        try:
            failures += await _delete_batch(client, owner, bucket, batch)
        except (StorageError, StorageUnavailableError) as error:
            failures += [DeleteFailure(key, str(error.code), str(error)) for key in batch]
    return failures


@s3_errors()
async def _delete_batch(
    client: Any, owner: dict[str, str], bucket: str, keys: Sequence[str]
) -> list[DeleteFailure]:
    # Quiet: S3 answers only the keys it could not delete.
    answer = await client.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        **owner,
    )
    return [
        DeleteFailure(str(e.get("Key", "")), str(e.get("Code", "")), str(e.get("Message", "")))
        for e in answer.get("Errors", [])
    ]


async def iter_objects(
    client: Any, owner: dict[str, str], bucket: str, prefix: str
) -> AsyncIterator[list[StoredObject]]:
    """Pages of objects under `prefix`, every page."""
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix,
            "MaxKeys": 1000,
            **owner,
        }
        if token:
            kwargs["ContinuationToken"] = token
        page = await s3_errors()(client.list_objects_v2)(**kwargs)
        yield [
            StoredObject(str(o["Key"]), int(o["Size"]), o["LastModified"])
            for o in page.get("Contents", [])
        ]
        if not page.get("IsTruncated"):
            return
        token = page["NextContinuationToken"]


async def iter_multipart_uploads(
    client: Any, owner: dict[str, str], bucket: str, prefix: str = ""
) -> AsyncIterator[list[MultipartUpload]]:
    """Pages of in-progress multipart uploads, following the markers the server returns.

    AWS pages by key and upload id (both Next markers); SeaweedFS returns only
    NextUploadIdMarker and reads a KeyMarker as a filter, so only returned markers are sent.
    """
    markers: dict[str, str] = {}
    while True:
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix,
            "MaxUploads": 1000,
            **owner,
        }
        page = await s3_errors()(client.list_multipart_uploads)(**kwargs, **markers)
        yield [
            MultipartUpload(str(u["Key"]), str(u["UploadId"]), u["Initiated"])
            for u in page.get("Uploads", [])
        ]
        following = {
            name: str(page[next_name])
            for name, next_name in (
                ("KeyMarker", "NextKeyMarker"),
                ("UploadIdMarker", "NextUploadIdMarker"),
            )
            if page.get(next_name)
        }
        if not page.get("IsTruncated") or not following or following == markers:
            return  # the last page, or a server that would repeat it forever
        markers = following


@s3_errors()
async def list_buckets(client: Any, prefix: str = "") -> list[str]:
    """Names of the buckets these credentials see, starting with `prefix`."""
    answer = await client.list_buckets()
    return sorted(
        str(b["Name"]) for b in answer.get("Buckets", []) if str(b["Name"]).startswith(prefix)
    )
