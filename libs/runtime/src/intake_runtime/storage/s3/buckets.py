"""A bucket made ready on first use: created when missing, given the browser CORS rule."""

import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from intake_runtime.settings import S3Settings
from intake_runtime.storage import cors
from intake_runtime.storage.s3.errors import BUCKET_MISSING, error_code, s3_errors

log = logging.getLogger(__name__)

# How long a bucket's CORS rule is trusted before it is read again. During a rolling change of
# INTAKE_CORS_ORIGINS an old replica's first use of a bucket writes the old origins back; the
# new replicas put theirs back within this time instead of never.
CORS_RECHECK_S = 300.0


class Buckets:
    def __init__(
        self,
        client: Any,
        settings: S3Settings,
        owner: dict[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._owner = owner
        self._clock = clock
        self._checked_at: dict[str, float] = {}

    @s3_errors()
    async def ensure(self, bucket: str) -> None:
        """Create the bucket on first use (per-tenant strategy) and give it the browser CORS
        rule; checked again every CORS_RECHECK_S.

        Reading the CORS rules tells whether the bucket exists: a HEAD of the bucket would need
        s3:ListBucket, which initiation's policy (deploy/iam/) does not grant.
        """
        checked_at = self._checked_at.get(bucket)
        if checked_at is not None and self._clock() - checked_at < CORS_RECHECK_S:
            return
        try:
            existing = await self._cors_rules(bucket)
        except ClientError as error:
            if error_code(error) not in BUCKET_MISSING:
                raise
            await self._create_bucket(bucket)
            existing = []
        if existing is not None:
            await self._set_cors(bucket, existing)
        self._checked_at[bucket] = self._clock()

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
            if error_code(error) != "BucketAlreadyOwnedByYou":
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
            if error_code(error) == "NoSuchCORSConfiguration":
                return []
            if error_code(error) in {"AccessDenied", "403"}:
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
