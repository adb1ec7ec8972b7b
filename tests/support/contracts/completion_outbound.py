"""Completion's request/reply port to initiation: its contract suite."""

import uuid

import pytest

from intake_completion.ports import OutboundCommands
from intake_contracts import keys
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorCode, TransientError
from intake_contracts.sessions import (
    UploadStatus,
)
from tests.support.contracts.outbound import MISSING, Seed, outsider, refusal, stranger, vouched


class CompletionOutboundContract:
    """What the completion saga relies on from any OutboundCommands (initiation)."""

    async def test_an_uploading_session_may_be_completed(
        self, outbound: OutboundCommands, seed: Seed
    ) -> None:
        seeded = await seed("uploading")
        record = await outbound.begin_completion(seeded.session_id, seeded.owner)
        assert (record.upload_session_id, record.tenant_id, record.status, record.asset_id) == (
            seeded.session_id,
            seeded.owner.tenant_id,
            UploadStatus.UPLOADING,
            None,
        )

    async def test_a_missing_session_and_another_tenants_are_refused_alike(
        self, outbound: OutboundCommands, seed: Seed
    ) -> None:
        seeded = await seed("uploading")
        other = stranger(seeded.owner)
        asset_id = keys.asset_id_for(seeded.session_id)
        assert [
            await refusal(outbound.begin_completion(uuid.uuid4(), seeded.owner)),
            await refusal(outbound.begin_completion(seeded.session_id, other)),
            await refusal(outbound.mark_completed(uuid.uuid4(), asset_id, vouched(seeded.owner))),
            await refusal(outbound.mark_completed(seeded.session_id, asset_id, vouched(other))),
        ] == [MISSING] * 4
        code, _ = await refusal(
            outbound.begin_completion(seeded.session_id, outsider(seeded.owner))
        )
        assert code == ErrorCode.BRAND_NOT_ALLOWED

    async def test_a_session_that_is_no_longer_live_refuses_with_its_own_code(
        self, outbound: OutboundCommands, seed: Seed
    ) -> None:
        cancelled, expired = await seed("cancelled"), await seed("expired")
        asset_id = keys.asset_id_for(cancelled.session_id)
        assert [
            (await refusal(outbound.begin_completion(cancelled.session_id, cancelled.owner)))[0],
            (
                await refusal(
                    outbound.mark_completed(
                        cancelled.session_id, asset_id, vouched(cancelled.owner)
                    )
                )
            )[0],
            (await refusal(outbound.begin_completion(expired.session_id, expired.owner)))[0],
        ] == [
            ErrorCode.UPLOAD_CANCELLED,
            ErrorCode.UPLOAD_CANCELLED,
            ErrorCode.UPLOAD_SESSION_EXPIRED,
        ]

    async def test_only_a_service_completes_a_session_and_a_retry_gets_the_same_answer(
        self, outbound: OutboundCommands, seed: Seed
    ) -> None:
        seeded = await seed("uploading")
        asset_id = keys.asset_id_for(seeded.session_id)
        code, _ = await refusal(outbound.mark_completed(seeded.session_id, asset_id, seeded.owner))
        assert code == ErrorCode.PERMISSION_DENIED
        service = vouched(seeded.owner)
        completed = await outbound.mark_completed(seeded.session_id, asset_id, service)
        again = await outbound.mark_completed(seeded.session_id, asset_id, service)
        begun = await outbound.begin_completion(seeded.session_id, seeded.owner)
        assert {(r.status, r.asset_id) for r in (completed, again, begun)} == {
            (UploadStatus.COMPLETED, asset_id)
        }
        code, _ = await refusal(outbound.mark_completed(seeded.session_id, uuid.uuid4(), service))
        assert code == ErrorCode.INVALID_SESSION_STATE

    async def test_no_reply_in_time_is_a_transient_timeout(
        self, stalled: OutboundCommands, owner: Principal
    ) -> None:
        with pytest.raises(TransientError) as raised:
            await stalled.begin_completion(uuid.uuid4(), owner)
        assert raised.value.code == ErrorCode.SERVICE_TIMEOUT

    async def test_a_command_the_broker_does_not_take_is_transient(
        self, unreachable: OutboundCommands, owner: Principal
    ) -> None:
        with pytest.raises(TransientError) as raised:
            await unreachable.begin_completion(uuid.uuid4(), owner)
        assert raised.value.code == ErrorCode.SERVICE_UNAVAILABLE
