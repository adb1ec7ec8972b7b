"""deploy/iam/ enforced by the local S3: each service's own identity refused every call its
policy does not grant (the gateway and audit have no identity: anonymous), and allowed every
call of the upload flow."""

import json
import os
import re
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.support import s3_policies, stack
from tests.support.s3_policies import World

sys.path.insert(0, str(stack.ROOT / "deploy"))
import s3_iam
import stack_base
import stack_principals

pytestmark = pytest.mark.integration


def client(stack_env: dict[str, str], keys: dict[str, str]) -> Any:
    signing = {"signature_version": UNSIGNED} if not keys else {"signature_version": "s3v4"}
    return boto3.client(
        "s3",
        endpoint_url=stack_env["AWS_ENDPOINT_URL"],
        region_name=stack_env.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=keys.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=keys.get("AWS_SECRET_ACCESS_KEY"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **signing),
    )


def own_keys(service: str) -> dict[str, str]:
    """What the launcher gives the service: its own S3 keys, or none."""
    return stack_principals.service_s3_env(stack_base.Config.from_env(os.environ), service)


@pytest.fixture(scope="module")
def clients(stack_env: dict[str, str]) -> dict[str, Any]:
    return {service: client(stack_env, own_keys(service)) for service in s3_policies.SERVICES}


@pytest.fixture(scope="module")
def world(s3: Any, bucket: str) -> Iterator[World]:
    made = s3_policies.set_up(s3, bucket)
    yield made
    s3_policies.tear_down(s3, made)


def test_the_gateway_and_audit_get_no_s3_keys_and_the_others_their_own() -> None:
    assert own_keys("gateway") == own_keys("audit") == {}
    keys = {own_keys(service)["AWS_ACCESS_KEY_ID"] for service in s3_iam.SERVICES}
    admin = stack_base.Config.from_env(os.environ).aws_access_key_id
    assert len(keys) == len(s3_iam.SERVICES)
    assert admin not in keys


@pytest.mark.parametrize(("service", "call"), s3_policies.forbidden_cases())
def test_a_call_outside_the_policy_is_denied(
    clients: dict[str, Any], world: World, service: str, call: s3_policies.Call
) -> None:
    s3_policies.assert_denied(call, clients[service], world)


def test_the_upload_flow_runs_with_each_services_own_identity(
    clients: dict[str, Any], s3: Any, bucket: str
) -> None:
    world = s3_policies.set_up(s3, bucket)
    try:
        s3_policies.run_upload_flow(clients, world)
    finally:
        s3_policies.tear_down(s3, world)


def test_per_tenant_buckets_are_covered_by_the_policies(
    clients: dict[str, Any], s3: Any, bucket: str
) -> None:
    """STORAGE_PROVISION_STRATEGY=per_tenant: initiation creates `{AWS_BUCKET}-{tenant}`, and
    each service does its part there as in the shared bucket."""
    tenant_bucket = f"{bucket}-{uuid.uuid4().hex[:12]}"
    clients["initiation"].create_bucket(Bucket=tenant_bucket)
    world = s3_policies.set_up(s3, tenant_bucket)
    try:
        s3_policies.run_upload_flow(clients, world)
        s3_policies.assert_denied(
            lambda c, w: c.put_object(Bucket=w.bucket, Key=w.new_tenant_key(), Body=b"x"),
            clients["initiation"],
            world,
        )
    finally:
        s3_policies.tear_down(s3, world)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=tenant_bucket):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=tenant_bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=tenant_bucket)


def test_the_stack_gives_its_bucket_the_bucket_policy(s3: Any, bucket: str) -> None:
    held = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    expected = s3_iam.seaweed_bucket_policy(s3_iam.render("bucket-policy", bucket))
    assert [st.get("Sid") for st in held["Statement"]] == [
        st["Sid"] for st in expected["Statement"]
    ]


def test_the_bucket_policy_refuses_writes_whatever_the_identity_may_do(s3: Any) -> None:
    """The bucket policy is a second wall. Aimed here at the admin identity (which may do
    anything) in a bucket of its own: the writes it names are refused, the multipart actions
    AWS keeps apart from PutObject (abort, list parts) are not."""
    scratch = f"intake-policy-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=scratch)
    admin = f"arn:aws:iam::{s3_iam.LOCAL_ACCOUNT}:user/intake"
    policy = s3_iam.seaweed_bucket_policy(s3_iam.render("bucket-policy", scratch))
    text = re.sub(r"arn:aws:iam::\d+:user/intake-(initiation|cleanup)", admin, json.dumps(policy))
    permanent = f"tenants/t/assets/{uuid.uuid4()}/original"
    upload_id = s3.create_multipart_upload(Bucket=scratch, Key=permanent)["UploadId"]
    s3.put_object(Bucket=scratch, Key=permanent + "-kept", Body=b"x")
    s3.put_bucket_policy(Bucket=scratch, Policy=text)
    try:
        world = World(scratch, "", permanent + "-kept", ("", ""), (permanent, upload_id), "r")
        for refused in (
            lambda c, w: c.put_object(Bucket=w.bucket, Key=w.new_tenant_key(), Body=b"x"),
            lambda c, w: c.create_multipart_upload(Bucket=w.bucket, Key=w.new_tenant_key()),
            lambda c, w: c.put_object(Bucket=w.bucket, Key=w.other_key, Body=b"x"),
            lambda c, w: c.delete_object(Bucket=w.bucket, Key=w.tenant_key),
        ):
            s3_policies.assert_denied(refused, s3, world)
        s3.put_object(Bucket=scratch, Key=world.new_temp_key(), Body=b"x")
        assert s3.list_parts(Bucket=scratch, Key=permanent, UploadId=upload_id).get("Parts") in (
            None,
            [],
        )
        s3.abort_multipart_upload(Bucket=scratch, Key=permanent, UploadId=upload_id)
    finally:
        s3.delete_bucket_policy(Bucket=scratch)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=scratch):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=scratch, Key=item["Key"])
        s3.delete_bucket(Bucket=scratch)
