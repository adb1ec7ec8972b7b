"""Read every store directly into a Snapshot: Postgres (each service's schema) and S3."""

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from intake_contracts import keys
from tests.soak.deadlines import deadline
from tests.soak.invariants import Answer, Asset, AuditEvent, Claim, Session, Snapshot, StoredObject

SCHEMAS = ("initiation", "completion", "cleanup", "audit")
POSTGRES_READ_S = 60.0
# Every temp and permanent object of the soak's tenants is listed, checksummed ones read.
S3_READ_S = 180.0

SESSIONS = (
    "SELECT id, tenant_id, status, size_bytes, checksum_sha256, asset_id, bucket, temp_key"
    " FROM initiation.upload_sessions WHERE tenant_id = ANY($1::text[])"
)
ASSETS = (
    "SELECT asset_id, upload_session_id, tenant_id, bucket, object_key, size_bytes,"
    " checksum_sha256, promoted_at IS NOT NULL AS promoted"
    " FROM completion.assets WHERE tenant_id = ANY($1::text[])"
)
STEPS = (
    "SELECT upload_session_id, step FROM completion.completions WHERE tenant_id = ANY($1::text[])"
)
INDEX = "SELECT session_id, status FROM cleanup.session_index WHERE tenant_id = ANY($1::text[])"
# Inbox and outbox carry no tenant column, and the database is shared with whatever ran before
# the soak (in `make test`, every other suite, some of which kill services mid-command): an
# event counts when its envelope names one of the soak's tenants, a command when it arrived
# after the soak began (commands carry no tenant outside their payload, which the inbox keeps
# no copy of).
UNPUBLISHED = "published_at IS NULL AND envelope->>'tenant_id' = ANY($1::text[])"
UNANSWERED = "reply IS NULL AND received_at >= $1"

AUDIT = (
    "SELECT upload_session_id, type, seq FROM audit.events"
    " WHERE tenant_id = ANY($1::text[]) AND upload_session_id IS NOT NULL"
)


async def read(
    database_url: str,
    s3: Any,
    tenants: Sequence[str],
    answers: list[Answer],
    claims: list[Claim],
    since: datetime,
) -> Snapshot:
    """Everything the books need about `tenants`, plus what their clients saw; inbox rows
    count from `since` (the database's clock when the soak began)."""
    async with deadline("reading the soak's rows from Postgres", POSTGRES_READ_S):
        connection = await asyncpg.connect(database_url, timeout=POSTGRES_READ_S)
        try:
            snapshot = await _read_postgres(connection, list(tenants), since)
        finally:
            await connection.close(timeout=5)
    snapshot.answers, snapshot.claims = answers, claims
    # boto3 blocks: in a thread, so the loop (and its deadlines) keep running meanwhile.
    async with deadline("listing and reading the soak's objects in S3", S3_READ_S):
        await asyncio.to_thread(_read_s3, s3, snapshot, tenants)
    return snapshot


async def database_now(database_url: str) -> datetime:
    """The database's clock: inbox rows are stamped with it, not with this process's."""
    async with deadline("reading the database's clock", POSTGRES_READ_S):
        connection = await asyncpg.connect(database_url, timeout=POSTGRES_READ_S)
        try:
            now: datetime = await connection.fetchval("SELECT now()")
        finally:
            await connection.close(timeout=5)
    return now


async def _read_postgres(
    connection: asyncpg.Connection, tenants: list[str], since: datetime
) -> Snapshot:
    snapshot = Snapshot()
    for row in await connection.fetch(SESSIONS, tenants):
        snapshot.sessions[row["id"]] = Session(**{**dict(row), "id": row["id"]})
    snapshot.assets = [
        Asset(
            asset_id=row["asset_id"],
            session_id=row["upload_session_id"],
            tenant_id=row["tenant_id"],
            bucket=row["bucket"],
            object_key=row["object_key"],
            size_bytes=row["size_bytes"],
            checksum_sha256=row["checksum_sha256"],
            promoted=row["promoted"],
        )
        for row in await connection.fetch(ASSETS, tenants)
    ]
    snapshot.completion_steps = {
        row["upload_session_id"]: row["step"] for row in await connection.fetch(STEPS, tenants)
    }
    snapshot.index = {
        row["session_id"]: row["status"] for row in await connection.fetch(INDEX, tenants)
    }
    snapshot.audit = [
        AuditEvent(row["upload_session_id"], row["type"], row["seq"])
        for row in await connection.fetch(AUDIT, tenants)
    ]
    for schema in SCHEMAS:
        snapshot.unpublished_outbox[schema] = await _count(
            connection, f"{schema}.outbox", UNPUBLISHED, tenants
        )
        snapshot.unanswered_inbox[schema] = await _count(
            connection, f"{schema}.inbox", UNANSWERED, since
        )
    return snapshot


async def _count(connection: asyncpg.Connection, table: str, where: str, scope: object) -> int:
    """Rows of a schema's inbox or outbox (a schema without one counts as empty); `where`
    takes `scope` as its one parameter."""
    if await connection.fetchval("SELECT to_regclass($1)", table) is None:
        return 0
    return int(await connection.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", scope))


def _read_s3(s3: Any, snapshot: Snapshot, tenants: Sequence[str]) -> None:
    buckets = {session.bucket for session in snapshot.sessions.values()}
    checksums = {
        (session.bucket, session.temp_key): session.checksum_sha256
        for session in snapshot.sessions.values()
    }
    declared = {
        (asset.bucket, asset.object_key): snapshot.sessions[asset.session_id].checksum_sha256
        for asset in snapshot.assets
        if asset.session_id in snapshot.sessions
    }
    ours = {session.temp_key for session in snapshot.sessions.values()}
    for bucket in sorted(buckets):
        prefixes = [keys.TEMP_PREFIX, *(f"tenants/{tenant}/" for tenant in tenants)]
        for prefix in prefixes:
            for item in _listing(s3, "list_objects_v2", "Contents", Bucket=bucket, Prefix=prefix):
                key = item["Key"]
                if key.startswith(keys.TEMP_PREFIX) and key not in ours:
                    continue  # another run's temp object
                digest = None
                if declared.get((bucket, key)) or checksums.get((bucket, key)):
                    digest = _sha256(s3, bucket, key)
                snapshot.objects[(bucket, key)] = StoredObject(item["Size"], digest)
        for upload in _listing(
            s3, "list_multipart_uploads", "Uploads", Bucket=bucket, Prefix=keys.TEMP_PREFIX
        ):
            if upload["Key"] in ours:
                snapshot.multipart_uploads.append((bucket, upload["Key"]))


def _listing(s3: Any, operation: str, field: str, **params: Any) -> list[dict[str, Any]]:
    return [
        item
        for page in s3.get_paginator(operation).paginate(**params)
        for item in page.get(field, [])
    ]


def _sha256(s3: Any, bucket: str, key: str) -> str:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()
