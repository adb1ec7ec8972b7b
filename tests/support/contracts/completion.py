"""Completion's contract suite for its saga database, and the records it is seeded with."""

import base64
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from intake_completion.domain import Asset
from intake_completion.ports import SagaDatabase
from intake_completion.saga import BACKGROUND, Step
from intake_contracts import keys
from intake_contracts.events import (
    AssetCreated,
    EventType,
)
from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.sessions import (
    SessionRecord,
    UploadStatus,
    UploadType,
)
from tests.support.contracts.common import NOW

Expire = Callable[[uuid.UUID], Awaitable[None]]


def new_asset(
    session_id: uuid.UUID | None = None,
    *,
    tenant_id: str | None = None,
    bucket: str = "intake-contract",
    size: int = 5,
) -> Asset:
    session = session_id or uuid.uuid4()
    return Asset(
        asset_id=keys.asset_id_for(session),
        upload_session_id=session,
        tenant_id=tenant_id or f"t-{uuid.uuid4().hex[:8]}",
        brand_id="b",
        user_id="u",
        title="a",
        file_name="a.txt",
        mime_type="text/plain",
        size_bytes=size,
        bucket=bucket,
        object_key=keys.temp_key(session),
        checksum_sha256=None,
        created_at=None,
    )


def new_record(
    data: bytes,
    *,
    bucket: str,
    checksum: str | None = None,
    algorithm: ChecksumAlgorithm | None = None,
) -> SessionRecord:
    """A direct upload's session as initiation shares it, sized for `data`; with `algorithm`
    (SHA256), declaring the digest of `data`."""
    session = uuid.uuid4()
    declared = base64.b64encode(hashlib.sha256(data).digest()).decode() if algorithm else None
    return SessionRecord(
        checksum_algorithm=algorithm,
        checksum=declared,
        upload_session_id=session,
        tenant_id=f"t-{uuid.uuid4().hex[:8]}",
        brand_id="b",
        user_id="u",
        status=UploadStatus.UPLOADING,
        upload_type=UploadType.DIRECT,
        file_name="a.txt",
        mime_type="text/plain",
        size_bytes=len(data),
        chunk_size=None,
        part_count=None,
        bucket=bucket,
        temp_key=keys.temp_key(session),
        multipart_upload_id=None,
        checksum_sha256=checksum,
        expires_at=NOW + timedelta(hours=1),
        last_activity_at=NOW,
        created_at=NOW,
        asset_id=None,
        failure_reason=None,
    )


class SagaDatabaseContract:
    """What the completion saga relies on from any SagaDatabase (repository and leases).

    `expire(session_id)` makes the session's lease lapse: the fake moves its clock, the real
    adapter moves the row's lease_until into the database's past.
    """

    async def _opened(self, database: SagaDatabase, tenant_id: str | None = None) -> Asset:
        asset = new_asset(tenant_id=tenant_id)
        await database.saga.open_attempt(asset.upload_session_id, asset.tenant_id, asset.asset_id)
        return asset

    async def test_an_attempt_is_opened_once_at_finalizing(self, database: SagaDatabase) -> None:
        asset = await self._opened(database)
        await database.saga.open_attempt(asset.upload_session_id, "another", uuid.uuid4())
        attempt = await database.saga.attempt(asset.upload_session_id)
        assert attempt is not None
        assert (attempt.tenant_id, attempt.asset_id) == (asset.tenant_id, asset.asset_id)
        assert (attempt.step, attempt.lease_owner, attempt.lease_until) == (
            Step.FINALIZING,
            None,
            None,
        )
        assert await database.saga.attempt(uuid.uuid4()) is None

    async def test_a_lease_is_held_by_one_owner_until_released_or_expired(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        asset = await self._opened(database)
        session_id, first, second = asset.upload_session_id, uuid.uuid4(), uuid.uuid4()
        claimed = await database.leases.claim(session_id, [Step.FINALIZING], first, 60)
        assert claimed is not None
        assert (claimed.lease_owner, claimed.lease_until is not None) == (first, True)
        assert await database.leases.claim(session_id, [Step.FINALIZING], second, 60) is None
        await database.leases.release(session_id, second, "not mine")  # changes nothing
        assert await database.leases.claim(session_id, [Step.FINALIZING], second, 60) is None
        await database.leases.release(session_id, first, "boom")
        retaken = await database.leases.claim(session_id, [Step.FINALIZING], second, 60)
        assert retaken is not None
        assert retaken.lease_owner == second
        await expire(session_id)
        taken_over = await database.leases.claim(session_id, [Step.FINALIZING], first, 60)
        assert taken_over is not None
        assert taken_over.lease_owner == first

    async def test_a_step_released_with_a_back_off_is_claimed_by_nobody_until_it_ends(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        asset = await self._opened(database)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        first = await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        assert first is not None
        await database.leases.release(session_id, owner, "S3 down", retry_in_s=60)
        released = await database.saga.attempt(session_id)
        assert released is not None
        assert (released.lease_owner, released.lease_until is not None) == (None, True)
        assert await database.leases.claim(session_id, [Step.FINALIZING], uuid.uuid4(), 60) is None
        await expire(session_id)
        again = await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        assert again is not None
        assert again.tries == first.tries + 1  # the back-off of the next failure doubles

    async def test_a_renewal_keeps_only_its_owners_lease_alive(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        asset = await self._opened(database)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        assert await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        await expire(session_id)
        await database.leases.renew(session_id, uuid.uuid4(), 60)  # not the owner: still lapsed
        assert await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        await expire(session_id)
        await database.leases.renew(session_id, owner, 60)
        assert await database.leases.claim(session_id, [Step.FINALIZING], uuid.uuid4(), 60) is None

    async def test_a_claim_takes_only_the_steps_asked_for(self, database: SagaDatabase) -> None:
        asset = await self._opened(database)
        background = [Step.PROMOTING, Step.RELEASING]
        assert (
            await database.leases.claim(asset.upload_session_id, background, uuid.uuid4(), 60)
            is None
        )

    async def test_a_step_advances_by_compare_and_set_of_step_and_owner(
        self, database: SagaDatabase
    ) -> None:
        asset = await self._opened(database)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        assert await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        saga = database.saga
        assert not await saga.advance(session_id, Step.FINALIZING, uuid.uuid4(), release=True)
        assert not await saga.advance(session_id, Step.PROMOTING, owner, release=True)
        assert await saga.advance(session_id, Step.FINALIZING, owner, release=False)
        kept = await saga.attempt(session_id)
        assert kept is not None
        assert (kept.step, kept.lease_owner) == (Step.PROMOTING, owner)
        assert await saga.advance(session_id, Step.PROMOTING, owner, release=True)
        released = await saga.attempt(session_id)
        assert released is not None
        assert (released.step, released.lease_owner, released.lease_until) == (
            Step.RELEASING,
            None,
            None,
        )
        assert not await saga.advance(session_id, Step.PROMOTING, owner, release=True)

    async def test_due_lists_unheld_background_steps_only(self, database: SagaDatabase) -> None:
        finalizing = await self._opened(database)
        held, free = await self._opened(database), await self._opened(database)
        for asset in (held, free):
            owner = uuid.uuid4()
            sid = asset.upload_session_id
            assert await database.leases.claim(sid, [Step.FINALIZING], owner, 60)
            assert await database.saga.advance(sid, Step.FINALIZING, owner, release=asset is free)
        due = await database.saga.due(100_000)
        assert free.upload_session_id in due
        assert held.upload_session_id not in due
        assert finalizing.upload_session_id not in due

    async def test_the_tenant_cap_counts_other_live_finalizations(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        first = await self._opened(database)
        tenant = first.tenant_id
        second = await self._opened(database, tenant)
        await self._opened(database, tenant)  # never claimed: not running
        for asset in (first, second):
            claimed = await database.leases.claim(
                asset.upload_session_id, [Step.FINALIZING], uuid.uuid4(), 60
            )
            assert claimed is not None
        saga = database.saga
        assert await saga.running_in_tenant(tenant, uuid.uuid4()) == 2
        assert await saga.running_in_tenant(tenant, first.upload_session_id) == 1
        assert await saga.running_in_tenant("another-tenant", uuid.uuid4()) == 0
        await expire(second.upload_session_id)
        assert await saga.running_in_tenant(tenant, uuid.uuid4()) == 1

    async def test_open_and_claim_opens_once_claims_a_free_lease_and_counts_the_others(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        other = await self._opened(database)
        tenant = other.tenant_id
        assert await database.leases.claim(
            other.upload_session_id, [Step.FINALIZING], uuid.uuid4(), 60
        )
        asset = new_asset(tenant_id=tenant)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        async with database.transaction() as tx:
            await tx.saga.lock_tenant(tenant)
            claimed, running = await tx.saga.open_and_claim(
                session_id, tenant, asset.asset_id, owner, 60
            )
        assert claimed is not None
        assert (claimed.step, claimed.lease_owner, claimed.tenant_id) == (
            Step.FINALIZING,
            owner,
            tenant,
        )
        assert claimed.asset_id == asset.asset_id
        assert claimed.lease_until is not None
        assert running == 1  # the other session's live finalization, not this one
        held = await database.saga.open_and_claim(
            session_id, "another", uuid.uuid4(), uuid.uuid4(), 60
        )
        assert held == (None, 0)
        kept = await database.saga.attempt(session_id)
        assert kept is not None
        assert (kept.tenant_id, kept.asset_id, kept.lease_owner) == (tenant, asset.asset_id, owner)
        await expire(session_id)
        retaken, _ = await database.saga.open_and_claim(
            session_id, tenant, asset.asset_id, uuid.uuid4(), 60
        )
        assert retaken is not None
        assert retaken.lease_owner != owner

    async def test_an_asset_is_recorded_once_and_found_in_its_tenant(
        self, database: SagaDatabase
    ) -> None:
        asset = new_asset()
        async with database.transaction() as tx:
            await tx.saga.lock_tenant(asset.tenant_id)
            stored = await tx.saga.insert_asset(asset)
        assert stored is not None
        assert stored.created_at is not None
        assert stored.model_copy(update={"created_at": None}) == asset
        assert await database.saga.insert_asset(asset) is None
        session_id = asset.upload_session_id
        assert await database.saga.asset(session_id, asset.tenant_id) == stored
        assert await database.saga.asset(session_id, "another-tenant") is None
        assert await database.saga.asset_of(session_id) == stored

    async def test_the_asset_and_foreign_saga_sees_the_tenants_asset_and_another_tenants_saga(
        self, database: SagaDatabase
    ) -> None:
        asset = new_asset()
        session_id, tenant = asset.upload_session_id, asset.tenant_id
        assert await database.saga.asset_and_foreign_saga(session_id, tenant) == (None, False)
        await database.saga.open_attempt(session_id, tenant, asset.asset_id)
        assert await database.saga.asset_and_foreign_saga(session_id, tenant) == (None, False)
        assert await database.saga.asset_and_foreign_saga(session_id, "another-tenant") == (
            None,
            True,
        )
        stored = await database.saga.insert_asset(asset)
        assert await database.saga.asset_and_foreign_saga(session_id, tenant) == (stored, False)
        assert await database.saga.asset_and_foreign_saga(session_id, "another-tenant") == (
            None,
            True,
        )

    async def test_an_asset_is_promoted_once(self, database: SagaDatabase) -> None:
        asset = new_asset()
        assert await database.saga.insert_asset(asset) is not None
        target = keys.asset_key(asset.tenant_id, asset.asset_id)
        promoted = await database.saga.mark_promoted(asset.upload_session_id, target)
        assert promoted is not None
        assert (promoted.object_key, promoted.promoted_at is not None) == (target, True)
        assert await database.saga.mark_promoted(asset.upload_session_id, "elsewhere") is None
        assert await database.saga.asset_of(asset.upload_session_id) == promoted

    async def test_an_asset_is_recorded_with_the_saga_moving_on_only_by_its_lease_holder(
        self, database: SagaDatabase
    ) -> None:
        asset = await self._opened(database)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        event = AssetCreated(**asset.model_dump(include=set(AssetCreated.model_fields)))

        async def record(by: uuid.UUID) -> Asset | None:
            return await database.record_asset(
                asset, event, by, lease_s=60, correlation_id="c", principal=None
            )

        assert await record(owner) is None  # nobody holds the step
        assert await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        assert await record(uuid.uuid4()) is None  # another owner's lease
        assert await database.saga.asset_of(session_id) is None
        stored = await record(owner)
        assert stored is not None
        assert stored.created_at is not None
        assert stored.model_copy(update={"created_at": None}) == asset
        attempt = await database.saga.attempt(session_id)
        assert attempt is not None
        # The recorder keeps the lease of promoting (handed to the promoter): nobody claims it.
        assert (attempt.step, attempt.lease_owner) == (Step.PROMOTING, owner)
        assert attempt.lease_until is not None
        assert await database.leases.claim(session_id, BACKGROUND, uuid.uuid4(), 60) is None
        assert session_id not in await database.saga.due(100)
        assert await record(owner) is None  # the step has moved on: nothing twice
        assert await database.saga.asset_of(session_id) == stored

    async def test_a_transaction_that_raises_leaves_nothing(self, database: SagaDatabase) -> None:
        asset = new_asset()

        async def work_then_fail() -> None:
            async with database.transaction() as tx:
                await tx.saga.open_attempt(asset.upload_session_id, asset.tenant_id, asset.asset_id)
                await tx.saga.insert_asset(asset)
                await tx.outbox.add(
                    EventType.ASSET_CREATED,
                    AssetCreated(**asset.model_dump(include=set(AssetCreated.model_fields))),
                    key=str(asset.upload_session_id),
                    tenant_id=asset.tenant_id,
                    correlation_id="c",
                )
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await work_then_fail()
        assert await database.saga.attempt(asset.upload_session_id) is None
        assert await database.saga.asset_of(asset.upload_session_id) is None
