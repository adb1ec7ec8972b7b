"""The S3 adapter against the real SeaweedFS: typed results, and each S3 answer callers act on
mapped to the adapter's own error."""

import base64
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from intake_contracts.errors import ErrorCode, TransientError
from intake_runtime.settings import S3Settings
from intake_runtime.storage import cors
from intake_runtime.storage.s3 import (
    DELETE_BATCH,
    ChecksumRejectedError,
    ObjectHead,
    ObjectNotFoundError,
    ObjectStore,
    PartsRejectedError,
    PreconditionFailedError,
    StorageError,
    StorageUnavailableError,
    UploadNotFoundError,
    open_object_store,
)
from intake_runtime.storage.s3.buckets import CORS_RECHECK_S, Buckets
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def s3_settings(stack_env: dict[str, str], **changes: str) -> S3Settings:
    return S3Settings(**{**stack_env, **changes})


@pytest.fixture
async def store(stack_env: dict[str, str]) -> AsyncIterator[ObjectStore]:
    async with open_object_store(s3_settings(stack_env)) as opened:
        await opened.ensure_bucket(stack_env["AWS_BUCKET"])
        yield opened


def new_key() -> str:
    return f"temp/uploads/{uuid.uuid4()}/original"


async def put_part(
    store: ObjectStore, bucket: str, key: str, upload_id: str, n: int, data: bytes
) -> str:
    url = await store.presign_part(
        bucket, key, upload_id, n, content_length=len(data), expires_s=300
    )
    async with httpx.AsyncClient() as client:
        answer = await client.put(url, content=data)
    answer.raise_for_status()
    return answer.headers["ETag"].strip('"')


async def put_signed_part(
    store: ObjectStore, bucket: str, key: str, upload_id: str, n: int, data: bytes
) -> str:
    """A part whose URL signs its SHA-256, as a SHA256 session's part URLs do."""
    checksum = b64_sha256(data)
    url = await store.presign_part(
        bucket, key, upload_id, n, content_length=len(data), expires_s=300,
        checksum=("SHA256", checksum),
    )  # fmt: skip
    async with httpx.AsyncClient() as client:
        answer = await client.put(url, content=data, headers={"x-amz-checksum-sha256": checksum})
    answer.raise_for_status()
    return answer.headers["ETag"].strip('"')


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


async def put_object(store: ObjectStore, bucket: str, key: str, data: bytes) -> None:
    url = await store.presign_put(
        bucket, key, content_type="image/png", content_length=len(data), expires_s=300
    )
    async with httpx.AsyncClient() as client:
        answer = await client.put(url, content=data, headers={"Content-Type": "image/png"})
    answer.raise_for_status()


async def test_head_is_typed_and_none_for_a_missing_object(store: ObjectStore, bucket: str) -> None:
    key = new_key()
    assert await store.head(bucket, key) is None
    await put_object(store, bucket, key, b"x" * 1000)
    head = await store.head(bucket, key, checksums=True)
    assert isinstance(head, ObjectHead)
    assert (head.size, head.content_type) == (1000, "image/png")
    assert head.etag
    assert '"' not in head.etag


async def test_a_missing_object_is_object_not_found(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(ObjectNotFoundError) as streamed:
        await store.stream(bucket, new_key())
    with pytest.raises(ObjectNotFoundError) as copied:
        await store.copy(bucket, new_key(), new_key(), 10, threshold=100)
    assert streamed.value.code == "NoSuchKey"
    assert copied.value.code == "NoSuchKey"


async def test_multipart_round_trip_gives_typed_results(store: ObjectStore, bucket: str) -> None:
    key = new_key()
    opened = await store.create_multipart(bucket, key, "image/png")
    assert opened.key == key
    assert opened.upload_id
    etags = [
        await put_part(store, bucket, key, opened.upload_id, n, bytes([n]) * size)
        for n, size in ((1, 5 * MIB), (2, 1000))
    ]
    parts = await store.list_parts(bucket, key, opened.upload_id)
    assert [(p.part_number, p.size, p.etag) for p in parts] == [
        (1, 5 * MIB, etags[0]),
        (2, 1000, etags[1]),
    ]
    listed = [u async for page in store.iter_multipart_uploads(bucket, key) for u in page]
    assert opened.upload_id in {u.upload_id for u in listed}
    done = await store.complete_multipart(
        bucket, key, opened.upload_id, [(1, etags[0]), (2, etags[1])]
    )
    assert done.key == key
    head = await store.head(bucket, key)
    assert head is not None
    assert head.size == 5 * MIB + 1000
    objects = [o async for page in store.iter_objects(bucket, key) for o in page]
    assert [(o.key, o.size) for o in objects] == [(key, 5 * MIB + 1000)]


async def test_a_composite_sha256_upload_completes_with_its_parts_checksums(
    store: ObjectStore, bucket: str
) -> None:
    """S3 refuses a wrong part checksum (BadDigest, as ChecksumRejectedError) and leaves the
    upload open; with the right ones it completes and keeps `<sha256 of the parts'>-N`."""
    key, data = new_key(), [os.urandom(5 * MIB), os.urandom(1000)]
    opened = await store.create_multipart(
        bucket, key, "image/png", checksum_algorithm="SHA256", checksum_type="COMPOSITE"
    )
    etags = [
        await put_signed_part(store, bucket, key, opened.upload_id, n, part)
        for n, part in enumerate(data, start=1)
    ]
    listed = await store.list_parts(bucket, key, opened.upload_id)
    # SeaweedFS lists no part checksums (AWS would: both spell them as S3 does).
    assert [p.checksums.get("SHA256") for p in listed] in (
        [None, None],
        list(map(b64_sha256, data)),
    )
    parts = list(enumerate(etags, start=1))
    wrong = {1: b64_sha256(data[0]), 2: b64_sha256(data[0])}
    with pytest.raises(ChecksumRejectedError) as refused:
        await store.complete_multipart(
            bucket, key, opened.upload_id, parts, checksums=("SHA256", wrong)
        )
    assert refused.value.code == "BadDigest"
    right = {1: b64_sha256(data[0]), 2: b64_sha256(data[1])}
    await store.complete_multipart(
        bucket, key, opened.upload_id, parts, checksums=("SHA256", right)
    )
    head = await store.head(bucket, key, checksums=True)
    assert head is not None
    composite = b64_sha256(b"".join(hashlib.sha256(part).digest() for part in data))
    assert (head.checksums.get("SHA256"), head.checksum_type) == (f"{composite}-2", "COMPOSITE")
    await store.delete(bucket, key)


async def test_an_aborted_upload_is_upload_not_found(store: ObjectStore, bucket: str) -> None:
    key = new_key()
    opened = await store.create_multipart(bucket, key, "image/png")
    assert await store.abort_multipart(bucket, key, opened.upload_id) is True
    with pytest.raises(UploadNotFoundError) as listed:
        await store.list_parts(bucket, key, opened.upload_id)
    with pytest.raises(UploadNotFoundError):
        await store.complete_multipart(bucket, key, opened.upload_id, [(1, "0" * 32)])
    assert listed.value.code in {"NoSuchUpload", "404"}


async def test_a_part_list_s3_refuses_is_parts_rejected(store: ObjectStore, bucket: str) -> None:
    key = new_key()
    opened = await store.create_multipart(bucket, key, "image/png")
    etag = await put_part(store, bucket, key, opened.upload_id, 1, b"a" * 1000)
    try:
        with pytest.raises(PartsRejectedError) as refused:
            # A part that was never uploaded.
            await store.complete_multipart(bucket, key, opened.upload_id, [(1, etag), (2, etag)])
    finally:
        await store.abort_multipart(bucket, key, opened.upload_id)
    assert refused.value.code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}


async def test_other_refusals_are_storage_errors_with_s3s_code(
    stack_env: dict[str, str],
) -> None:
    async with open_object_store(s3_settings(stack_env)) as store:
        with pytest.raises(StorageError) as refused:
            await store.ensure_bucket("Not_A_Valid_Bucket")
    assert type(refused.value) is StorageError
    assert refused.value.code == "InvalidBucketName"


async def test_delete_many_deletes_across_requests_of_a_thousand_keys(
    store: ObjectStore, bucket: str
) -> None:
    keys = [new_key() for _ in range(DELETE_BATCH + 5)]
    # Objects in both requests; the other keys have none, which counts as deleted.
    written = [keys[0], keys[DELETE_BATCH - 1], keys[DELETE_BATCH + 4]]
    for key in written:
        await put_object(store, bucket, key, b"residue")
    assert await store.delete_many(bucket, keys) == []
    assert [await store.head(bucket, key) for key in written] == [None, None, None]


async def test_delete_many_names_every_key_of_a_refused_request(store: ObjectStore) -> None:
    keys = [new_key(), new_key()]
    failures = await store.delete_many(f"no-such-bucket-{uuid.uuid4().hex[:8]}", keys)
    assert [failure.key for failure in failures] == keys
    assert {failure.code for failure in failures} == {"NoSuchBucket"}


async def test_an_unreachable_s3_is_storage_unavailable(stack_env: dict[str, str]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = s3_settings(stack_env, AWS_ENDPOINT_URL=closed, INTAKE_S3_TIMEOUT_S="1")
    async with open_object_store(settings) as store:
        with pytest.raises(StorageUnavailableError) as unreachable:
            await store.head(settings.aws_bucket, new_key())
        with pytest.raises(StorageUnavailableError):
            async for _ in store.iter_objects(settings.aws_bucket, "temp/"):
                pass
        # delete_many does not raise: it names each key it could not delete, and why.
        keys = [new_key(), new_key()]
        left = await store.delete_many(settings.aws_bucket, keys)
    # Still the TransientError the dispatcher answers storage_unavailable (503) with.
    assert isinstance(unreachable.value, TransientError)
    assert unreachable.value.code == ErrorCode.STORAGE_UNAVAILABLE
    assert [(failure.key, failure.code) for failure in left] == [
        (key, ErrorCode.STORAGE_UNAVAILABLE) for key in keys
    ]


async def test_urls_signed_without_botocore_are_accepted_for_exactly_their_body(
    store: ObjectStore, bucket: str
) -> None:
    # The bucket's first URL comes from botocore (it tells the endpoint); these are presign.py's.
    await store.presign_put(bucket, new_key(), content_type="a/b", content_length=1, expires_s=60)
    key = new_key()
    await put_object(store, bucket, key, b"d" * 1000)
    head = await store.head(bucket, key)
    assert head is not None
    assert head.size == 1000
    opened = await store.create_multipart(bucket, new_key(), "image/png")
    etag = await put_part(store, bucket, opened.key, opened.upload_id, 1, b"p" * 1000)
    parts = await store.list_parts(bucket, opened.key, opened.upload_id)
    assert [(p.part_number, p.etag) for p in parts] == [(1, etag)]
    url = await store.presign_part(
        bucket, opened.key, opened.upload_id, 2, content_length=1000, expires_s=60
    )
    async with httpx.AsyncClient() as client:
        longer = await client.put(url, content=b"p" * 1001)
        other_type = await client.put(
            await store.presign_put(
                bucket, new_key(), content_type="image/png", content_length=3, expires_s=60
            ),
            content=b"abc",
            headers={"Content-Type": "text/plain"},
        )
    await store.abort_multipart(bucket, opened.key, opened.upload_id)
    assert longer.status_code == 403
    assert other_type.status_code == 403


class _NoBotocoreCalls:
    """An S3 client that only presigns: any other botocore call fails the test."""

    def __init__(self, client: object) -> None:
        self._client = client

    def __getattr__(self, name: str) -> object:
        if name != "generate_presigned_url":
            raise AssertionError(f"botocore was asked to {name}")
        return getattr(self._client, name)


async def test_head_and_delete_go_to_s3_directly_with_botocores_answers(
    store: ObjectStore, stack_env: dict[str, str], bucket: str
) -> None:
    key, missing = new_key(), new_key()
    await put_object(store, bucket, key, b"x" * 1000)
    through_botocore = await store._head(bucket, key, checksums=False)
    direct = ObjectStore(
        _NoBotocoreCalls(store._client),
        s3_settings(stack_env),
        store._credentials,
        store._http,
    )
    assert await direct.head(bucket, key) == through_botocore
    assert await direct.head(bucket, key, checksums=True) == through_botocore
    assert await direct.head(bucket, missing) is None
    odd = f"tenants/odd ~ é+%/{uuid.uuid4()}/original"  # sent exactly as it was signed
    await put_object(store, bucket, odd, b"y" * 10)
    odd_head = await direct.head(bucket, odd)
    assert odd_head is not None
    assert odd_head.size == 10
    await direct.delete(bucket, odd)
    assert await store.head(bucket, odd) is None
    await direct.delete(bucket, key)
    await direct.delete(bucket, missing)  # no object: deleted all the same
    assert await store.head(bucket, key) is None


async def test_a_small_copy_goes_to_s3_directly_and_a_missing_source_is_botocores_answer(
    store: ObjectStore, stack_env: dict[str, str], bucket: str
) -> None:
    direct = ObjectStore(
        _NoBotocoreCalls(store._client),
        s3_settings(stack_env),
        store._credentials,
        store._http,
    )
    odd = f"tenants/odd ~ é+%/{uuid.uuid4()}/original"  # the copy source is quoted as signed
    for source in (new_key(), odd):
        target = new_key()
        await put_object(store, bucket, source, b"z" * 100)
        await direct.copy(bucket, source, target, 100, threshold=1024)
        copied = await store.head(bucket, target)
        assert copied is not None
        assert copied.size == 100
        assert await store.head(bucket, source) is not None  # a copy, not a move
    # A missing source is not a CopyObjectResult: botocore is asked and says what it is.
    with pytest.raises(ObjectNotFoundError):
        await store.copy(bucket, new_key(), new_key(), 1, threshold=1024)


async def test_a_direct_request_s3_refuses_is_asked_again_through_botocore(
    store: ObjectStore, stack_env: dict[str, str], bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    await put_object(store, bucket, key, b"x" * 10)

    class WrongSecret:
        async def get_frozen_credentials(self) -> object:
            frozen = await store._credentials.get_frozen_credentials()
            return type(frozen)(frozen.access_key, "not-the-secret", frozen.token)

    signed_wrong = ObjectStore(
        store._client,
        s3_settings(stack_env),
        WrongSecret(),
        store._http,
    )
    target = new_key()
    with caplog.at_level(logging.INFO, logger="intake_runtime.storage.s3"):
        head = await signed_wrong.head(bucket, key)
        await signed_wrong.copy(bucket, key, target, 10, threshold=1024)
        await signed_wrong.delete(bucket, key)
    assert head is not None
    assert head.size == 10
    copied = await store.head(bucket, target)
    assert copied is not None
    assert copied.size == 10
    assert await store.head(bucket, key) is None
    refused = [r.getMessage() for r in caplog.records if "asking botocore" in r.getMessage()]
    assert refused == [
        "direct S3 HEAD answered 403; asking botocore",
        "direct S3 copy answered 403; asking botocore",
        "direct S3 DELETE answered 403; asking botocore",
    ]


async def test_a_signed_checksum_makes_s3_refuse_other_bytes_first_url_and_after(
    stack_env: dict[str, str], bucket: str
) -> None:
    """The bucket's first URL (botocore's) and the next ones (presign.py's) sign the checksum
    alike; the PUT must carry it, and S3 refuses bytes that do not match it."""
    body = os.urandom(1000)
    checksum = ("SHA256", base64.b64encode(hashlib.sha256(body).digest()).decode())
    header = {"x-amz-checksum-sha256": checksum[1], "Content-Type": "a/b"}
    async with open_object_store(s3_settings(stack_env)) as fresh, httpx.AsyncClient() as client:
        for _ in range(2):  # botocore's URL, then presign.py's
            url = await fresh.presign_put(
                bucket, new_key(), content_type="a/b", content_length=1000, expires_s=60,
                checksum=checksum,
            )  # fmt: skip
            wrong = await client.put(url, content=os.urandom(1000), headers=header)
            assert (wrong.status_code, "BadDigest" in wrong.text) == (400, True)
            unsigned = await client.put(url, content=body, headers={"Content-Type": "a/b"})
            assert unsigned.status_code == 403
            assert (await client.put(url, content=body, headers=header)).status_code == 200


async def test_conditional_copies_refuse_a_changed_source_and_an_existing_target(
    store: ObjectStore, bucket: str
) -> None:
    source, target = new_key(), new_key()
    await put_object(store, bucket, source, b"first")
    head = await store.head(bucket, source)
    assert head is not None
    with pytest.raises(PreconditionFailedError):
        await store.copy(bucket, source, target, 5, 2**30, if_match="0" * 32)
    assert await store.head(bucket, target) is None
    await store.copy(bucket, source, target, 5, 2**30, if_match=head.etag, if_none_match=True)
    await put_object(store, bucket, source, b"other")
    with pytest.raises(PreconditionFailedError):
        await store.copy(bucket, source, target, 5, 2**30, if_none_match=True)
    landed = await store.head(bucket, target)
    assert landed is not None
    assert landed.etag == head.etag
    for key in (source, target):
        await store.delete(bucket, key)


async def test_a_cors_rule_another_process_rewrote_is_put_back_when_checked_again(
    stack_env: dict[str, str], s3: Any
) -> None:
    """An old replica during a rolling change of INTAKE_CORS_ORIGINS writes its origins back;
    this process trusts the rule it checked only for CORS_RECHECK_S."""
    settings = s3_settings(stack_env)
    bucket = f"intake-cors-{uuid.uuid4().hex[:12]}"
    now = [0.0]

    def origins() -> list[str]:
        rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        return [
            origin
            for rule in rules
            if rule.get("ID") == cors.RULE_ID
            for origin in rule["AllowedOrigins"]
        ]

    async with open_object_store(settings) as opened:
        buckets = Buckets(opened._client, settings, {}, clock=lambda: now[0])
        try:
            await buckets.ensure(bucket)  # created, given this process's rule
            ours = origins()
            assert ours == sorted(settings.cors_origin_list)
            old = cors.browser_rule(["https://old-replica.example"])
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [old]})

            now[0] += CORS_RECHECK_S - 1
            await buckets.ensure(bucket)
            assert origins() == ["https://old-replica.example"]  # trusted, not read again

            now[0] += 1
            await buckets.ensure(bucket)
            assert origins() == ours
        finally:
            s3.delete_bucket(Bucket=bucket)
