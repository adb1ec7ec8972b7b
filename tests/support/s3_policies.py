"""The policy table of deploy/iam/: every S3 call a service must not make, and the calls of
the upload flow it must be able to make, run with each service's own S3 identity on the local
S3 (tests/integration/test_s3_policies.py) and on AWS (tests/aws/test_s3_policies.py)."""

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

SERVICES = ("initiation", "completion", "cleanup", "gateway", "audit")
TEMP = "temp/uploads/"


@dataclass
class World:
    """Objects and uploads the admin set up, one set per test run."""

    bucket: str
    temp_key: str  # an uploaded object waiting for its completion
    tenant_key: str  # a permanent object
    temp_upload: tuple[str, str]  # (key, upload id) of a multipart upload under temp/uploads/
    tenant_upload: tuple[str, str]  # ... and under tenants/ (a promotion copy under way)
    run: str

    def new_temp_key(self) -> str:
        return f"{TEMP}{uuid.uuid4()}/original"

    def new_tenant_key(self) -> str:
        return f"tenants/t-{self.run}/assets/{uuid.uuid4()}/original"

    @property
    def other_key(self) -> str:
        """A key under neither prefix."""
        return f"other/{self.run}/object"


def set_up(admin: Any, bucket: str) -> World:
    run = uuid.uuid4().hex[:8]
    temp_key = f"{TEMP}{uuid.uuid4()}/original"
    tenant_key = f"tenants/t-{run}/assets/{uuid.uuid4()}/original"
    admin.put_object(Bucket=bucket, Key=temp_key, Body=b"uploaded bytes")
    admin.put_object(Bucket=bucket, Key=tenant_key, Body=b"permanent bytes")
    uploads = []
    for key in (
        f"{TEMP}{uuid.uuid4()}/original",
        f"tenants/t-{run}/assets/{uuid.uuid4()}/original",
    ):
        uploads.append((key, admin.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]))
    return World(bucket, temp_key, tenant_key, uploads[0], uploads[1], run)


def tear_down(admin: Any, world: World) -> None:
    for key, upload_id in (world.temp_upload, world.tenant_upload):
        with contextlib.suppress(ClientError):  # aborted by the test already
            admin.abort_multipart_upload(Bucket=world.bucket, Key=key, UploadId=upload_id)
    for page in admin.get_paginator("list_objects_v2").paginate(
        Bucket=world.bucket, Prefix=f"tenants/t-{world.run}/"
    ):
        for item in page.get("Contents", []):
            admin.delete_object(Bucket=world.bucket, Key=item["Key"])
    admin.delete_object(Bucket=world.bucket, Key=world.temp_key)


Call = Callable[[Any, World], Any]


def presigned_put(client: Any, world: World, key: str) -> httpx.Response:
    """A PUT on a URL the client presigned (initiation's direct upload)."""
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": world.bucket, "Key": key}, ExpiresIn=300
    )
    return httpx.put(url, content=b"bytes sent by a client", timeout=30)


def presigned_part(client: Any, world: World, key: str, upload_id: str) -> httpx.Response:
    """A PUT on a part URL the client presigned (initiation's multipart upload)."""
    params = {"Bucket": world.bucket, "Key": key, "UploadId": upload_id, "PartNumber": 1}
    url = client.generate_presigned_url("upload_part", Params=params, ExpiresIn=300)
    return httpx.put(url, content=b"a part sent by a client", timeout=30)


def _refused(answer: httpx.Response) -> None:
    """A presigned request's refusal as the ClientError botocore would raise for it."""
    if answer.status_code == 403 and b"AccessDenied" in answer.content:
        error = {"Code": "AccessDenied", "Message": answer.text[:200]}
        raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}, "PUT")


def _delete_batch(client: Any, world: World, key: str) -> None:
    """DeleteObjects answers 200 and refuses key by key: a refusal becomes AccessDenied."""
    answer = client.delete_objects(Bucket=world.bucket, Delete={"Objects": [{"Key": key}]})
    codes = {error["Code"] for error in answer.get("Errors", [])}
    if codes:
        raise ClientError({"Error": {"Code": codes.pop(), "Message": "per key"}}, "DeleteObjects")


def _object_calls(write_to: str, read_from: str) -> dict[str, Call]:
    """Calls on objects, named by what they do: `write_to` and `read_from` name the key kind."""
    keys: dict[str, Callable[[World], str]] = {
        "temp": lambda w: w.temp_key,
        "new temp": lambda w: w.new_temp_key(),
        "tenants": lambda w: w.tenant_key,
        "new tenants": lambda w: w.new_tenant_key(),
        "other": lambda w: w.other_key,
    }
    target, source = keys[write_to], keys[read_from]
    return {
        f"PutObject {write_to}": lambda c, w: c.put_object(
            Bucket=w.bucket, Key=target(w), Body=b"x"
        ),
        f"CreateMultipartUpload {write_to}": lambda c, w: c.create_multipart_upload(
            Bucket=w.bucket, Key=target(w)
        ),
        f"CopyObject {read_from} -> {write_to}": lambda c, w: c.copy_object(
            Bucket=w.bucket, Key=target(w), CopySource={"Bucket": w.bucket, "Key": source(w)}
        ),
    }


def _forbidden() -> list[tuple[str, str, Call]]:
    def upload(kind: str) -> Callable[[World], tuple[str, str]]:
        return (lambda w: w.temp_upload) if kind == "temp" else (lambda w: w.tenant_upload)

    def get(kind: str) -> Call:
        return lambda c, w: c.get_object(Bucket=w.bucket, Key=getattr(w, f"{kind}_key"))

    def head(kind: str) -> Call:
        return lambda c, w: c.head_object(Bucket=w.bucket, Key=getattr(w, f"{kind}_key"))

    def delete(kind: str) -> Call:
        return lambda c, w: c.delete_object(Bucket=w.bucket, Key=getattr(w, f"{kind}_key"))

    def abort(kind: str) -> Call:
        def call(c: Any, w: World) -> Any:
            key, upload_id = upload(kind)(w)
            return c.abort_multipart_upload(Bucket=w.bucket, Key=key, UploadId=upload_id)

        return call

    def parts(kind: str) -> Call:
        def call(c: Any, w: World) -> Any:
            key, upload_id = upload(kind)(w)
            return c.list_parts(Bucket=w.bucket, Key=key, UploadId=upload_id)

        return call

    def listing(prefix: str | None) -> Call:
        extra = {} if prefix is None else {"Prefix": prefix}
        return lambda c, w: c.list_objects_v2(Bucket=w.bucket, **extra)

    bucket_calls: dict[str, Call] = {
        "HeadBucket": lambda c, w: c.head_bucket(Bucket=w.bucket),
        "GetBucketPolicy": lambda c, w: c.get_bucket_policy(Bucket=w.bucket),
        "PutBucketCors": lambda c, w: c.put_bucket_cors(
            Bucket=w.bucket,
            CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]},
        ),
        "CreateBucket another name": lambda c, w: c.create_bucket(Bucket=f"intake-other-{w.run}"),
        "ListMultipartUploads": lambda c, w: c.list_multipart_uploads(Bucket=w.bucket),
    }
    table: dict[str, dict[str, Call]] = {
        "initiation": {
            "GetObject temp": get("temp"),
            "HeadObject temp": head("temp"),
            "GetObject tenants": get("tenant"),
            **_object_calls("new tenants", "temp"),
            **_object_calls("other", "temp"),
            "CopyObject temp -> new temp": _object_calls("new temp", "temp")[
                "CopyObject temp -> new temp"
            ],
            "DeleteObject tenants": delete("tenant"),
            "AbortMultipartUpload tenants": abort("tenant"),
            "ListParts tenants": parts("tenant"),
            "ListObjectsV2 temp/uploads/": listing(TEMP),
            "ListObjectsV2 bucket": listing(None),
            "presigned PUT tenants": lambda c, w: _refused(presigned_put(c, w, w.new_tenant_key())),
            "presigned PUT other": lambda c, w: _refused(presigned_put(c, w, w.other_key)),
            "presigned UploadPart tenants": lambda c, w: _refused(
                presigned_part(c, w, *w.tenant_upload)
            ),
            "HeadBucket": bucket_calls["HeadBucket"],
            "GetBucketPolicy": bucket_calls["GetBucketPolicy"],
            "CreateBucket another name": bucket_calls["CreateBucket another name"],
            "ListMultipartUploads": bucket_calls["ListMultipartUploads"],
        },
        "completion": {
            **_object_calls("other", "tenants"),
            "GetObject other": lambda c, w: c.get_object(Bucket=w.bucket, Key=w.other_key),
            "DeleteObject tenants": delete("tenant"),
            "AbortMultipartUpload temp": abort("temp"),
            "ListParts tenants": parts("tenant"),
            "PutBucketCors": bucket_calls["PutBucketCors"],
            "GetBucketPolicy": bucket_calls["GetBucketPolicy"],
            "CreateBucket per-tenant name": lambda c, w: c.create_bucket(
                Bucket=f"{w.bucket}-{w.run}"
            ),
        },
        "cleanup": {
            **_object_calls("new temp", "temp"),
            "GetObject temp": get("temp"),
            "HeadObject tenants": head("tenant"),
            "DeleteObject tenants": delete("tenant"),
            "DeleteObjects tenants": lambda c, w: _delete_batch(c, w, w.tenant_key),
            "ListParts tenants": parts("tenant"),
            "ListObjectsV2 tenants/": listing("tenants/"),
            "ListObjectsV2 bucket": listing(None),
            "PutBucketCors": bucket_calls["PutBucketCors"],
            "GetBucketPolicy": bucket_calls["GetBucketPolicy"],
            "CreateBucket per-tenant name": lambda c, w: c.create_bucket(
                Bucket=f"{w.bucket}-{w.run}"
            ),
        },
    }
    nobody: dict[str, Call] = {
        "ListBuckets": lambda c, _: c.list_buckets(),
        "ListObjectsV2 temp/uploads/": listing(TEMP),
        "GetObject temp": get("temp"),
        "GetObject tenants": get("tenant"),
        "PutObject new temp": _object_calls("new temp", "temp")["PutObject new temp"],
        "CreateMultipartUpload new temp": _object_calls("new temp", "temp")[
            "CreateMultipartUpload new temp"
        ],
        "DeleteObject temp": delete("temp"),
        "AbortMultipartUpload temp": abort("temp"),
    }
    table["gateway"] = table["audit"] = nobody
    return [
        (service, name, call) for service, calls in table.items() for name, call in calls.items()
    ]


FORBIDDEN = _forbidden()


def forbidden_cases() -> list[Any]:
    return [pytest.param(s, call, id=f"{s}: {name}") for s, name, call in FORBIDDEN]


def assert_denied(call: Call, client: Any, world: World) -> None:
    try:
        call(client, world)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        assert code in {"AccessDenied", "403"}, f"refused for another reason: {code}"
        assert status in {None, 403}
        return
    raise AssertionError("allowed")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code"))


def run_upload_flow(clients: dict[str, Any], world: World) -> None:
    """Every call the three services make in an upload's life, each with its own identity:
    initiation opens, signs, resumes, cancels; completion finalizes, verifies, promotes (one
    copy and a multipart copy) and removes the temp object; cleanup finds and removes residue."""
    initiation, completion, cleanup = (clients[s] for s in ("initiation", "completion", "cleanup"))
    bucket = world.bucket
    # initiation: the browser CORS rule, a multipart upload with a presigned part, resume.
    rules = [{"AllowedMethods": ["PUT"], "AllowedOrigins": ["http://app.intake.test"]}]
    try:
        initiation.get_bucket_cors(Bucket=bucket)
    except ClientError as error:
        if _code(error) != "NoSuchCORSConfiguration":  # no rule yet
            raise
    key = world.new_temp_key()
    upload_id = initiation.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    assert presigned_part(initiation, world, key, upload_id).status_code == 200
    assert len(initiation.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]) == 1
    # completion: finalize, verify, promote, remove the temp object.
    parts = completion.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    completion.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]
        },
    )
    size = completion.head_object(Bucket=bucket, Key=key)["ContentLength"]
    assert (
        completion.get_object(Bucket=bucket, Key=key)["Body"].read() == b"a part sent by a client"
    )
    target = world.new_tenant_key()
    with pytest.raises(ClientError) as missing:
        completion.head_object(Bucket=bucket, Key=target)
    assert _code(missing.value) == "404", "a missing key is told apart from a refusal"
    completion.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
    assert completion.head_object(Bucket=bucket, Key=target)["ContentLength"] == size
    big = world.new_tenant_key()
    completion.list_multipart_uploads(Bucket=bucket, Prefix=big)
    copy_id = completion.create_multipart_upload(Bucket=bucket, Key=big)["UploadId"]
    etag = completion.upload_part_copy(
        Bucket=bucket,
        Key=big,
        UploadId=copy_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": key},
    )["CopyPartResult"]["ETag"]
    completion.complete_multipart_upload(
        Bucket=bucket,
        Key=big,
        UploadId=copy_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    stale = completion.create_multipart_upload(Bucket=bucket, Key=big)["UploadId"]
    completion.abort_multipart_upload(Bucket=bucket, Key=big, UploadId=stale)
    completion.delete_object(Bucket=bucket, Key=key)
    # initiation: a direct upload, a cancelled multipart upload and its residue.
    direct = world.new_temp_key()
    assert presigned_put(initiation, world, direct).status_code == 200
    cancelled = world.new_temp_key()
    open_id = initiation.create_multipart_upload(Bucket=bucket, Key=cancelled)["UploadId"]
    initiation.abort_multipart_upload(Bucket=bucket, Key=cancelled, UploadId=open_id)
    initiation.delete_object(Bucket=bucket, Key=cancelled)
    initiation.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    # cleanup: list residue under both prefixes, abort, confirm, delete.
    listed = cleanup.list_objects_v2(Bucket=bucket, Prefix=TEMP)
    assert direct in {item["Key"] for item in listed.get("Contents", [])} or listed["IsTruncated"]
    for prefix in (TEMP, "tenants/"):
        cleanup.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    for upload_key, upload in (world.temp_upload, world.tenant_upload):
        cleanup.abort_multipart_upload(Bucket=bucket, Key=upload_key, UploadId=upload)
    with pytest.raises(ClientError) as gone:
        cleanup.list_parts(Bucket=bucket, Key=world.temp_upload[0], UploadId=world.temp_upload[1])
    assert _code(gone.value) == "NoSuchUpload"
    answer = cleanup.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": direct}]})
    assert not answer.get("Errors"), answer.get("Errors")
    cleanup.delete_object(Bucket=bucket, Key=world.new_temp_key())
