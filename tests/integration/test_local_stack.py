"""The native stack's own maintenance commands, on the running stack."""

import os
import subprocess
import uuid
from typing import Any

import pytest

from tests.support import stack

pytestmark = pytest.mark.skipif(
    os.environ.get("INTAKE_TEST_STACK") == "testcontainers",
    reason="deploy/stack.sh drives the native stack; the containers have their own",
)


def test_reclaim_s3_vacuums_the_volumes_and_s3_keeps_every_object(
    stack_env: dict[str, str], s3: Any
) -> None:
    bucket = stack_env["AWS_BUCKET"]
    kept, deleted = f"temp/reclaim-{uuid.uuid4().hex}", f"temp/reclaim-{uuid.uuid4().hex}"
    body = os.urandom(1024 * 1024)
    s3.put_object(Bucket=bucket, Key=kept, Body=body)
    s3.put_object(Bucket=bucket, Key=deleted, Body=body)
    s3.delete_object(Bucket=bucket, Key=deleted)

    answer = subprocess.run(
        ["bash", str(stack.STACK), "reclaim-s3"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert answer.returncode == 0, answer.stderr
    assert "GiB before" in answer.stderr
    assert "GiB after" in answer.stderr
    assert s3.get_object(Bucket=bucket, Key=kept)["Body"].read() == body
    s3.delete_object(Bucket=bucket, Key=kept)
