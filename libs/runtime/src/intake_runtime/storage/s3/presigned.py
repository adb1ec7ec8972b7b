"""The presigned fast path: S3 requests sent on URLs presign.py signs, without botocore.

botocore's per-call work (endpoint rules, signing, event hooks, parsing) was most of
completion's CPU for a HEAD (measured with py-spy) and about 1 ms per presigned URL. botocore
signs a bucket's first URL, which tells the bucket's endpoint (`presign.Endpoint.learn`);
presign.py signs the next ones. HEAD, DELETE and a single CopyObject go out on such URLs over
aiohttp; any answer that does not settle them is left to botocore (the caller asks it again),
which retries and reads the error.
"""

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import yarl
from botocore.exceptions import BotoCoreError

from intake_runtime.storage import presign
from intake_runtime.storage.s3.errors import PreconditionFailedError
from intake_runtime.storage.s3.objects import CHECKSUM_ALGORITHMS

log = logging.getLogger(__name__)

T = TypeVar("T")

# botocore's parameter for each signed checksum header (its first presign of a bucket).
_BOTO_CHECKSUM = {
    f"x-amz-checksum-{name.lower()}": f"Checksum{name}" for name in CHECKSUM_ALGORITHMS
}

# A direct request's URL needs to live only as long as the request.
_DIRECT_EXPIRES_S = 60
# Answers of a direct request that botocore need not be asked about again: a HEAD's 404 is
# no object (or no bucket: botocore's answer is the same None); a DELETE's 404 is left to
# botocore, which tells a missing bucket (an error) from a missing key (deleted).
_DIRECT_FINAL = {
    "HEAD": frozenset({HTTPStatus.OK, HTTPStatus.NOT_FOUND}),
    "DELETE": frozenset({HTTPStatus.OK, HTTPStatus.NO_CONTENT}),
}


class PresignedRequests:
    """Presigned URLs and the requests sent directly on them, for one client's credentials."""

    def __init__(
        self,
        client: Any,
        credentials: Any,
        http: aiohttp.ClientSession | None,
        owner: dict[str, str],
    ) -> None:
        """`credentials`: the client's (aiobotocore) credentials, to presign without botocore;
        `http`: a session for the requests sent directly; `owner`: the expected bucket owner."""
        self._client = client
        self._credentials = credentials
        self._http = http
        self._owner = owner
        self._endpoints: dict[str, presign.Endpoint] = {}

    async def url(
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

    async def send(
        self, method: str, bucket: str, key: str, headers: dict[str, str]
    ) -> tuple[int, Mapping[str, str]] | None:
        """Send a bodiless request on a URL presigned by presign.py, skipping botocore's
        per-call work (endpoint rules, signing, event hooks, parsing: most of completion's CPU
        for a HEAD, measured with py-spy); the status and headers of an answer that settles it
        (2xx, 404), else None, and the caller asks botocore, which retries and reads the error.
        """

        def settled(
            status: int, answer_headers: Mapping[str, str], _body: bytes
        ) -> tuple[int, Mapping[str, str]] | None:
            return (status, answer_headers) if status in _DIRECT_FINAL[method] else None

        return await self._direct(method, bucket, key, headers, settled)

    async def copy(
        self, bucket: str, source_key: str, target_key: str, conditions: Mapping[str, str]
    ) -> bool:
        """A CopyObject sent on a presigned URL, as `send` sends a HEAD (botocore's work per
        call was most of a small promotion's CPU). True only for a 200 whose body is a
        CopyObjectResult: S3 can fail a copy with 200 and an Error body, so the body is read,
        and any other answer is left to botocore, which retries and reads the error; a 412
        (a `conditions` header refused) is final.

        Raises:
            PreconditionFailedError: S3 answered 412.
        """
        headers = {
            "x-amz-copy-source": quote(f"{bucket}/{source_key}", safe="/~"),
            **conditions,
        }
        if self._owner:
            headers["x-amz-source-expected-bucket-owner"] = self._owner["ExpectedBucketOwner"]

        def settled(status: int, _headers: Mapping[str, str], body: bytes) -> bool | None:
            if status == HTTPStatus.OK and b"<CopyObjectResult" in body:
                return True
            if status == HTTPStatus.PRECONDITION_FAILED:
                raise PreconditionFailedError("PreconditionFailed", body.decode(errors="replace"))
            return None

        copied = await self._direct("PUT", bucket, target_key, headers, settled, name="copy")
        return copied or False

    async def _direct(
        self,
        method: str,
        bucket: str,
        key: str,
        headers: dict[str, str],
        settled: Callable[[int, Mapping[str, str], bytes], T | None],
        *,
        name: str | None = None,
    ) -> T | None:
        """Send the request on a presigned URL; what `settled` makes of the answer (status,
        headers, body), or None when it does not settle it or the request failed. `name`: what
        the log calls the request (its method unless given)."""
        name = name or method
        signed = await self._signed(method, bucket, key, headers)
        if signed is None or self._http is None:
            return None
        url, signed_headers = signed
        try:
            async with self._http.request(
                method, url, headers=signed_headers, allow_redirects=False
            ) as answer:
                outcome = settled(answer.status, answer.headers, await answer.read())
                if outcome is None:
                    log.info("direct S3 %s answered %s; asking botocore", name, answer.status)
                return outcome
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            log.info("direct S3 %s failed; asking botocore", name, extra={"error": str(error)})
        return None

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
