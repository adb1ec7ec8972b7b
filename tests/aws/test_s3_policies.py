"""deploy/iam/ on AWS itself: the denial table and the upload flow with each service's role.

Runs only when given a bucket and credentials, and is skipped otherwise:

    INTAKE_AWS_TEST_BUCKET   a bucket carrying the rendered bucket policy (deploy/iam/README.md)
    AWS_REGION               its region
    ambient AWS credentials  allowed to write and read the bucket (the test's own set-up) and
                             to assume the roles intake-initiation, intake-completion and
                             intake-cleanup, each holding its rendered policy
"""

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.support import s3_policies
from tests.support.s3_policies import World

BUCKET = os.environ.get("INTAKE_AWS_TEST_BUCKET", "")

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(not BUCKET, reason="INTAKE_AWS_TEST_BUCKET is not set: no AWS to test on"),
]

CONFIG = Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"})


def role_client(service: str) -> Any:
    """An S3 client with the credentials of the service's role, as its pod would have them."""
    sts = boto3.client("sts")
    account = sts.get_caller_identity()["Account"]
    assumed = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/intake-{service}",
        RoleSessionName=f"intake-policy-test-{service}",
    )["Credentials"]
    return boto3.client(
        "s3",
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
        config=CONFIG,
    )


@pytest.fixture(scope="module")
def admin() -> Any:
    return boto3.client("s3", config=CONFIG)


@pytest.fixture(scope="module")
def clients() -> dict[str, Any]:
    anonymous = boto3.client("s3", config=Config(signature_version=UNSIGNED))
    made = {service: role_client(service) for service in ("initiation", "completion", "cleanup")}
    return {**made, "gateway": anonymous, "audit": anonymous}


@pytest.fixture(scope="module")
def world(admin: Any) -> Iterator[World]:
    made = s3_policies.set_up(admin, BUCKET)
    yield made
    s3_policies.tear_down(admin, made)


@pytest.mark.parametrize(("service", "call"), s3_policies.forbidden_cases())
def test_a_call_outside_the_policy_is_denied(
    clients: dict[str, Any], world: World, service: str, call: s3_policies.Call
) -> None:
    s3_policies.assert_denied(call, clients[service], world)


def test_the_upload_flow_runs_with_each_services_role(clients: dict[str, Any], admin: Any) -> None:
    world = s3_policies.set_up(admin, BUCKET)
    try:
        s3_policies.run_upload_flow(clients, world)
    finally:
        s3_policies.tear_down(admin, world)
