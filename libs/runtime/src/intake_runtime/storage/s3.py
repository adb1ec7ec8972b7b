"""The S3 operations Intake performs, over one long-lived aioboto3 client.

This module is the only one that speaks botocore: callers get typed results and the errors
below. Connection-level failures and S3's "try later" answers are StorageUnavailableError (a
TransientError, storage_unavailable); S3's refusals are StorageError subclasses for what callers
act on, and a plain StorageError carrying S3's code for the rest.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import aioboto3
import aiohttp
import yarl
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from intake_contracts.errors import ErrorCode, TransientError
from intake_runtime.settings import S3Settings
from intake_runtime.storage import cors, presign

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

MULTIPART_COPY_PART_SIZE = 512 * 1024 * 1024
# S3's most keys in one DeleteObjects request.
DELETE_BATCH = 1000
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000


class StorageError(Exception):
    """S3 refused the call; `code` is S3's own error code (for logs and reports)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"S3 {code}: {detail}")
        self.code = code


class ObjectNotFoundError(StorageError):
    """No object at that key (or the bucket does not exist)."""


class UploadNotFoundError(StorageError):
    """S3 no longer knows the multipart upload: completed or aborted."""


class PartsRejectedError(StorageError):
    """S3 refused the part list of a completion (a part missing, re-uploaded or too small)."""


class PreconditionFailedError(StorageError):
    """A conditional write refused (412): the copy source's ETag was another (If-Match), or
    the target already exists (If-None-Match: *)."""


class StorageUnavailableError(TransientError):
    """S3 could not be reached or asked us to come back later: a retry may succeed."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.STORAGE_UNAVAILABLE, detail)


_UNAVAILABLE = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "503"})
_REFUSALS: Mapping[str, type[StorageError]] = {
    "NoSuchKey": ObjectNotFoundError,
    "NoSuchBucket": ObjectNotFoundError,
    "NoSuchUpload": UploadNotFoundError,
    "InvalidPart": PartsRejectedError,
    "InvalidPartOrder": PartsRejectedError,
    "EntityTooSmall": PartsRejectedError,
    "PreconditionFailed": PreconditionFailedError,
    "412": PreconditionFailedError,
}
_BUCKET_MISSING = frozenset({"404", "NoSuchBucket", "NotFound"})


@dataclass(frozen=True)
class ObjectHead:
    """An object's metadata; the checksum fields only when asked for and S3 stored one."""

    size: int
    content_type: str | None
    etag: str
    last_modified: datetime | None
    checksum_sha256: str | None
    checksum_type: str | None
    # Every checksum S3 stored, by algorithm ("SHA256", "CRC32C", ...), as S3 spells it.
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredPart:
    part_number: int
    size: int
    etag: str


@dataclass(frozen=True)
class CopiedPart:
    part_number: int
    etag: str


@dataclass(frozen=True)
class MultipartUpload:
    key: str
    upload_id: str
    initiated: datetime


@dataclass(frozen=True)
class OpenedUpload:
    key: str
    upload_id: str


@dataclass(frozen=True)
class CompletedUpload:
    key: str
    etag: str


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class DeleteFailure:
    """A key DeleteObjects did not delete: S3's code for it, or the error of its request."""

    key: str
    code: str
    detail: str


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _translated(error: Exception, missing: type[StorageError]) -> Exception:
    """Our error for a botocore one; `missing` is what a bare 404 (a HEAD has no body to name
    the code) means for the operation at hand."""
    if isinstance(error, ClientError):
        code = _code(error)
        if code in _UNAVAILABLE:
            return StorageUnavailableError(str(error))
        kind = missing if code in {"404", "NotFound"} else _REFUSALS.get(code, StorageError)
        return kind(code, str(error))
    if isinstance(error, ParamValidationError):  # our bug: a retry would fail the same way
        return StorageError("ParamValidation", str(error))
    return StorageUnavailableError(f"S3: {error}")


_BOTO_ERRORS = (ClientError, BotoCoreError, OSError, TimeoutError)


def _s3(
    missing: type[StorageError] = ObjectNotFoundError,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    def decorate(operation: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(operation)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await operation(*args, **kwargs)
            except _BOTO_ERRORS as error:
                raise _translated(error, missing) from error

        return wrapper

    return decorate


# Checksums S3 may store with an object, by the name S3 gives the algorithm.
CHECKSUM_ALGORITHMS = ("SHA256", "CRC32C", "CRC64NVME", "CRC32", "SHA1")
# botocore's parameter for each signed checksum header (its first presign of a bucket).
_BOTO_CHECKSUM = {
    f"x-amz-checksum-{name.lower()}": f"Checksum{name}" for name in CHECKSUM_ALGORITHMS
}


def checksum_headers(checksum: tuple[str, str] | None) -> dict[str, str]:
    """The header that makes S3 verify a body: {"x-amz-checksum-sha256": value}, or none."""
    if checksum is None:
        return {}
    algorithm, value = checksum
    return {f"x-amz-checksum-{algorithm.lower()}": value}


# A direct request's URL needs to live only as long as the request.
_DIRECT_EXPIRES_S = 60
# Answers of a direct request that botocore need not be asked about again: a HEAD's 404 is
# no object (or no bucket: botocore's answer is the same None); a DELETE's 404 is left to
# botocore, which tells a missing bucket (an error) from a missing key (deleted).
_DIRECT_FINAL = {
    "HEAD": frozenset({HTTPStatus.OK, HTTPStatus.NOT_FOUND}),
    "DELETE": frozenset({HTTPStatus.OK, HTTPStatus.NO_CONTENT}),
}


# A copy's replaced metadata, as botocore names it and as the direct request's headers spell it.
_COPY_HEADERS = {
    "MetadataDirective": "x-amz-metadata-directive",
    "ContentType": "content-type",
    "ContentDisposition": "content-disposition",
}


class ObjectStore:
    def __init__(
        self,
        client: Any,
        settings: S3Settings,
        credentials: Any = None,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        """`credentials`: the client's (aiobotocore) credentials, to presign without botocore;
        `http`: a session for HEAD and DELETE sent directly on presigned URLs (see `_direct`)."""
        self._client = client
        self._settings = settings
        self._credentials = credentials
        self._http = http
        self._endpoints: dict[str, presign.Endpoint] = {}
        self._known_buckets: set[str] = set()
        # With an expected owner, S3 refuses any call on a bucket another account owns.
        self._owner: dict[str, str] = (
            {"ExpectedBucketOwner": settings.aws_expected_bucket_owner}
            if settings.aws_expected_bucket_owner
            else {}
        )

    @_s3()
    async def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket on first use (per-tenant strategy) and give it the browser CORS
        rule; remembered once seen.

        Reading the CORS rules tells whether the bucket exists: a HEAD of the bucket would need
        s3:ListBucket, which initiation's policy (deploy/iam/) does not grant.
        """
        if bucket in self._known_buckets:
            return
        try:
            existing = await self._cors_rules(bucket)
        except ClientError as error:
            if _code(error) not in _BUCKET_MISSING:
                raise
            await self._create_bucket(bucket)
            existing = []
        if existing is not None:
            await self._set_cors(bucket, existing)
        self._known_buckets.add(bucket)

    async def _create_bucket(self, bucket: str) -> None:
        """Only "already owned by you" (a replica created it meanwhile) is success.

        BucketAlreadyExists means another account owns the name: writing there would hand
        tenant data to a stranger, so it surfaces.
        """
        region = self._settings.aws_region
        location = (
            {"CreateBucketConfiguration": {"LocationConstraint": region}}
            if region != "us-east-1"
            else {}
        )
        try:
            await self._client.create_bucket(Bucket=bucket, **location)
        except ClientError as error:
            if _code(error) != "BucketAlreadyOwnedByYou":
                raise

    async def _cors_rules(self, bucket: str) -> list[dict[str, Any]] | None:
        """The bucket's CORS rules; None when these credentials may not read them.

        Credentials without the CORS permissions (a bucket provisioned outside Intake) only
        log: the operator then sets the documented rule, and scripts upload without CORS anyway.

        Raises:
            ClientError: NoSuchBucket, or any other refusal.
        """
        try:
            answer = await self._client.get_bucket_cors(Bucket=bucket, **self._owner)
        except ClientError as error:
            if _code(error) == "NoSuchCORSConfiguration":
                return []
            if _code(error) in {"AccessDenied", "403"}:
                log.warning("cannot read the CORS rules of bucket %s: %s", bucket, error)
                return None
            raise
        return list(answer.get("CORSRules", []))

    async def _set_cors(self, bucket: str, existing: list[dict[str, Any]]) -> None:
        """Set Intake's CORS rule on the bucket, keeping other rules; no write when it is there."""
        rules = cors.merged_rules(existing, self._settings.cors_origin_list)
        if rules is None:
            return
        try:
            await self._client.put_bucket_cors(
                Bucket=bucket, CORSConfiguration={"CORSRules": rules}, **self._owner
            )
        except ClientError as error:
            log.warning("cannot set the CORS rule of bucket %s: %s", bucket, error)

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
        return await self._presign(
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
        return await self._presign(
            "upload_part",
            {"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
            content_length=content_length,
            expires_s=expires_s,
            headers=checksum_headers(checksum),
            params=[("uploadId", upload_id), ("partNumber", str(part_number))],
        )

    async def _presign(
        self,
        operation: str,
        request: dict[str, Any],
        *,
        content_length: int,
        expires_s: int,
        headers: dict[str, str] | None = None,
        params: list[tuple[str, str]] | None = None,
    ) -> str:
        """botocore signs a bucket's first URL, which tells its endpoint; presign.py the rest.

        Without credentials of our own (anonymous client) botocore signs every URL.
        """
        bucket, key = request["Bucket"], request["Key"]
        endpoint = self._endpoints.get(bucket)
        if endpoint is None or self._credentials is None:
            checksum = {
                _BOTO_CHECKSUM[name]: value
                for name, value in (headers or {}).items()
                if name in _BOTO_CHECKSUM
            }
            url: str = await self._client.generate_presigned_url(
                operation,
                Params={**request, "ContentLength": content_length, **checksum},
                ExpiresIn=expires_s,
            )
            if self._credentials is not None:
                self._endpoints[bucket] = presign.Endpoint.learn(url, key)
            return url
        frozen = await self._credentials.get_frozen_credentials()
        return presign.presign(
            endpoint,
            presign.Credentials(frozen.access_key, frozen.secret_key, frozen.token),
            key,
            now=datetime.now(UTC),
            expires_s=expires_s,
            headers={"content-length": str(content_length), **(headers or {})},
            params=params or [],
        )

    @_s3()
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

    @_s3(missing=UploadNotFoundError)
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
                StoredPart(int(p["PartNumber"]), int(p["Size"]), _unquoted(p["ETag"]))
                for p in page.get("Parts", [])
            )
            if not page.get("IsTruncated"):
                return sorted(parts, key=lambda part: part.part_number)
            marker = int(page["NextPartNumberMarker"])

    @_s3(missing=UploadNotFoundError)
    async def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        *,
        if_none_match: bool = False,
    ) -> CompletedUpload:
        """`if_none_match`: only when no object is at `key` yet (If-None-Match: *).

        Raises:
        UploadNotFoundError: already completed or aborted.
        PartsRejectedError: S3 refused the part list.
        PreconditionFailedError: `if_none_match` and an object is there.
        """
        condition = {"IfNoneMatch": "*"} if if_none_match else {}
        answer = await self._client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": number, "ETag": f'"{etag}"'} for number, etag in parts]
            },
            **condition,
            **self._owner,
        )
        return CompletedUpload(key=key, etag=_unquoted(answer.get("ETag", "")))

    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> bool:
        """True when aborted now, False when S3 no longer knew the upload."""
        try:
            await self._abort(bucket, key, upload_id)
        except UploadNotFoundError:
            return False
        return True

    @_s3(missing=UploadNotFoundError)
    async def _abort(self, bucket: str, key: str, upload_id: str) -> None:
        await self._client.abort_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, **self._owner
        )

    async def head(self, bucket: str, key: str, *, checksums: bool = False) -> ObjectHead | None:
        """The object's metadata, or None when it does not exist; `checksums` asks S3 for the
        checksums it stored with the object, where it has any."""
        asked = {"x-amz-checksum-mode": "ENABLED"} if checksums else {}
        direct = await self._direct("HEAD", bucket, key, asked)
        if direct is not None:
            status, headers = direct
            return _head_of(headers) if status == HTTPStatus.OK else None
        try:
            return await self._head(bucket, key, checksums=checksums)
        except ObjectNotFoundError:
            return None

    @_s3()
    async def _head(self, bucket: str, key: str, *, checksums: bool) -> ObjectHead:
        extra = {"ChecksumMode": "ENABLED"} if checksums else {}
        answer = await self._client.head_object(Bucket=bucket, Key=key, **extra, **self._owner)
        return ObjectHead(
            size=int(answer["ContentLength"]),
            content_type=answer.get("ContentType"),
            etag=_unquoted(answer.get("ETag", "")),
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
        if await self._direct("DELETE", bucket, key, {}) is None:
            await self._delete(bucket, key)

    @_s3()
    async def _delete(self, bucket: str, key: str) -> None:
        await self._client.delete_object(Bucket=bucket, Key=key, **self._owner)

    async def _direct(
        self, method: str, bucket: str, key: str, headers: dict[str, str]
    ) -> tuple[int, Mapping[str, str]] | None:
        """Send a bodiless request on a URL presigned by presign.py, skipping botocore's
        per-call work (endpoint rules, signing, event hooks, parsing: most of completion's CPU
        for a HEAD, measured with py-spy); the status and headers of an answer that settles it
        (2xx, 404), else None, and the caller asks botocore, which retries and reads the error.
        """
        signed = await self._signed(method, bucket, key, headers)
        if signed is None or self._http is None:
            return None
        url, headers = signed
        try:
            async with self._http.request(
                method, url, headers=headers, allow_redirects=False
            ) as answer:
                if answer.status in _DIRECT_FINAL[method]:
                    return answer.status, answer.headers
                log.info("direct S3 request answered %s; asking botocore", answer.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            log.info("direct S3 request failed; asking botocore", extra={"error": str(error)})
        return None

    async def _copied_directly(
        self, bucket: str, source_key: str, target_key: str, headers: Mapping[str, str]
    ) -> bool:
        """A CopyObject sent on a presigned URL, as `_direct` sends a HEAD (botocore's work per
        call was most of a small promotion's CPU). True only for a 200 whose body is a
        CopyObjectResult: S3 can fail a copy with 200 and an Error body, so the body is read,
        and any other answer is left to botocore, which retries and reads the error; a 412
        (a condition among `headers` refused) is final.

        Raises:
            PreconditionFailedError: S3 answered 412.
        """
        headers = {
            "x-amz-copy-source": quote(f"{bucket}/{source_key}", safe="/~"),
            **headers,
        }
        if self._owner:
            headers["x-amz-source-expected-bucket-owner"] = self._owner["ExpectedBucketOwner"]
        signed = await self._signed("PUT", bucket, target_key, headers)
        if signed is None or self._http is None:
            return False
        url, headers = signed
        try:
            async with self._http.put(url, headers=headers, allow_redirects=False) as answer:
                body = await answer.read()
                if answer.status == HTTPStatus.OK and b"<CopyObjectResult" in body:
                    return True
                if answer.status == HTTPStatus.PRECONDITION_FAILED:
                    raise PreconditionFailedError(
                        "PreconditionFailed", body.decode(errors="replace")
                    )
                log.info("direct S3 copy answered %s; asking botocore", answer.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            log.info("direct S3 copy failed; asking botocore", extra={"error": str(error)})
        return False

    async def _signed(
        self, method: str, bucket: str, key: str, headers: dict[str, str]
    ) -> tuple[yarl.URL, dict[str, str]] | None:
        """The presigned URL of a direct request and the headers to send with it (signed)."""
        if self._http is None:
            return None
        endpoint = await self._endpoint(bucket, key)
        if endpoint is None or self._credentials is None:
            return None
        if self._owner:
            headers = {**headers, "x-amz-expected-bucket-owner": self._owner["ExpectedBucketOwner"]}
        frozen = await self._credentials.get_frozen_credentials()
        url = presign.presign(
            endpoint,
            presign.Credentials(frozen.access_key, frozen.secret_key, frozen.token),
            key,
            now=datetime.now(UTC),
            expires_s=_DIRECT_EXPIRES_S,
            headers=headers,
            method=method,
        )
        # Sent as signed: yarl would otherwise normalise the quoting of the key.
        return yarl.URL(url, encoded=True), headers

    async def _endpoint(self, bucket: str, key: str) -> presign.Endpoint | None:
        """The bucket's endpoint, learnt once from a URL botocore presigned."""
        endpoint = self._endpoints.get(bucket)
        if endpoint is None and self._credentials is not None:
            try:
                url = await self._client.generate_presigned_url(
                    "head_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60
                )
                endpoint = self._endpoints[bucket] = presign.Endpoint.learn(url, key)
            except (BotoCoreError, ValueError) as error:
                log.warning("no endpoint learnt", extra={"bucket": bucket, "error": str(error)})
                return None
        return endpoint

    async def delete_many(self, bucket: str, keys: Sequence[str]) -> list[DeleteFailure]:
        """Delete `keys` with DeleteObjects, up to 1,000 a request; the keys left, each with
        why. A key with no object counts as deleted, as with `delete`. A request that fails as
        a whole (S3 down) fails its keys only: the other requests still run."""
        failures: list[DeleteFailure] = []
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                failures += await self._delete_batch(bucket, batch)
            except (StorageError, StorageUnavailableError) as error:
                failures += [DeleteFailure(key, str(error.code), str(error)) for key in batch]
        return failures

    @_s3()
    async def _delete_batch(self, bucket: str, keys: Sequence[str]) -> list[DeleteFailure]:
        # Quiet: S3 answers only the keys it could not delete.
        answer = await self._client.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            **self._owner,
        )
        return [
            DeleteFailure(str(e.get("Key", "")), str(e.get("Code", "")), str(e.get("Message", "")))
            for e in answer.get("Errors", [])
        ]

    @_s3()
    async def stream(
        self, bucket: str, key: str, chunk_size: int = 8 * 1024 * 1024
    ) -> AsyncIterator[bytes]:
        """The object's bytes in chunks.

        Raises:
            ObjectNotFoundError: no object at `key`.
        """
        answer = await self._client.get_object(Bucket=bucket, Key=key, **self._owner)
        return _chunks(answer["Body"], chunk_size)

    @_s3()
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
        part_size: int = MULTIPART_COPY_PART_SIZE,
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
        source = {"Bucket": bucket, "Key": source_key}
        owners = {**self._owner}
        if self._owner:
            owners["ExpectedSourceBucketOwner"] = self._owner["ExpectedBucketOwner"]
        source_condition = {"CopySourceIfMatch": f'"{if_match}"'} if if_match else {}
        if size <= threshold:
            metadata = (
                {
                    "MetadataDirective": "REPLACE",
                    "ContentType": content_type,
                    "ContentDisposition": content_disposition,
                }
                if content_disposition
                else {}
            )
            headers = {
                **({"x-amz-copy-source-if-match": f'"{if_match}"'} if if_match else {}),
                **({"if-none-match": "*"} if if_none_match else {}),
                **{_COPY_HEADERS[name]: value for name, value in metadata.items()},
            }
            if not await self._copied_directly(bucket, source_key, target_key, headers):
                await self._client.copy_object(
                    Bucket=bucket,
                    Key=target_key,
                    CopySource=source,
                    **source_condition,
                    **({"IfNoneMatch": "*"} if if_none_match else {}),
                    **metadata,
                    **owners,
                )
            return
        ranges = copy_ranges(size, part_size)
        upload = await self.create_multipart(
            bucket, target_key, content_type, content_disposition=content_disposition
        )
        gate = asyncio.Semaphore(max(1, concurrency))

        async def copy_part(number: int, first: int, last: int) -> CopiedPart:
            async with gate:
                answer = await self._client.upload_part_copy(
                    Bucket=bucket,
                    Key=target_key,
                    UploadId=upload.upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={first}-{last}",
                    **source_condition,
                    **owners,
                )
            return CopiedPart(number, _unquoted(answer["CopyPartResult"]["ETag"]))

        try:
            copied = await asyncio.gather(*(copy_part(*part) for part in ranges))
            parts = sorted((part.part_number, part.etag) for part in copied)
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

    async def iter_objects(self, bucket: str, prefix: str) -> AsyncIterator[list[StoredObject]]:
        """Pages of objects under `prefix`, every page."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Bucket": bucket,
                "Prefix": prefix,
                "MaxKeys": 1000,
                **self._owner,
            }
            if token:
                kwargs["ContinuationToken"] = token
            page = await _s3()(self._client.list_objects_v2)(**kwargs)
            yield [
                StoredObject(str(o["Key"]), int(o["Size"]), o["LastModified"])
                for o in page.get("Contents", [])
            ]
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    async def iter_multipart_uploads(
        self, bucket: str, prefix: str = ""
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
                **self._owner,
            }
            page = await _s3()(self._client.list_multipart_uploads)(**kwargs, **markers)
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

    @_s3()
    async def list_buckets(self, prefix: str = "") -> list[str]:
        """Names of the buckets these credentials see, starting with `prefix`."""
        answer = await self._client.list_buckets()
        return sorted(
            str(b["Name"]) for b in answer.get("Buckets", []) if str(b["Name"]).startswith(prefix)
        )


def _head_of(headers: Mapping[str, str]) -> ObjectHead:
    """An ObjectHead from a HEAD answer's headers, as botocore would have parsed them."""
    modified = headers.get("Last-Modified")
    return ObjectHead(
        size=int(headers.get("Content-Length", "0")),
        content_type=headers.get("Content-Type"),
        etag=_unquoted(headers.get("ETag", "")),
        last_modified=parsedate_to_datetime(modified) if modified else None,
        checksum_sha256=headers.get("x-amz-checksum-sha256"),
        checksum_type=headers.get("x-amz-checksum-type"),
        checksums={
            name: headers[f"x-amz-checksum-{name.lower()}"]
            for name in CHECKSUM_ALGORITHMS
            if headers.get(f"x-amz-checksum-{name.lower()}")
        },
    )


def _unquoted(etag: Any) -> str:
    return str(etag).strip('"')


def copy_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, first byte, last byte) of a multipart copy of `size` bytes.

    The part size is raised when needed so that no copy has more than 10,000 parts.
    """
    part_size = max(MIN_PART_SIZE, part_size, -(-size // MAX_PARTS))
    return [
        (number, first, min(first + part_size, size) - 1)
        for number, first in enumerate(range(0, size, part_size), start=1)
    ]


async def _chunks(body: Any, chunk_size: int) -> AsyncIterator[bytes]:
    try:
        async with body:
            while chunk := await body.read(chunk_size):
                yield chunk
    except _BOTO_ERRORS as error:  # a connection dropped mid-body
        raise _translated(error, ObjectNotFoundError) from error


@contextlib.asynccontextmanager
async def open_object_store(settings: S3Settings) -> AsyncIterator[ObjectStore]:
    session = aioboto3.Session(
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        region_name=settings.aws_region,
    )
    config = Config(
        signature_version="s3v4",
        # S3-compatible servers want path-style; AWS itself prefers virtual-hosted URLs.
        s3={"addressing_style": "path" if settings.aws_endpoint_url else "virtual"},
        connect_timeout=settings.s3_timeout_s,
        read_timeout=settings.s3_timeout_s,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=50,
    )
    timeout = aiohttp.ClientTimeout(total=settings.s3_timeout_s)
    async with (
        session.client("s3", endpoint_url=settings.aws_endpoint_url, config=config) as client,
        aiohttp.ClientSession(timeout=timeout) as http,
    ):
        yield ObjectStore(client, settings, await session.get_credentials(), http)
