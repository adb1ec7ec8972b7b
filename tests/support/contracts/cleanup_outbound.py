"""Cleanup's request/reply port to the other services, and its reply topics: their suites."""

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from intake_cleanup.domain import IndexedSession
from intake_cleanup.ports import (
    OutboundCommands,
    ReplyTopics,
)
from intake_contracts import keys
from intake_contracts.errors import ErrorCode
from intake_contracts.sessions import (
    UploadStatus,
)
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError
from tests.support.contracts.common import NOW
from tests.support.contracts.outbound import MISSING, Seed, Seeded, refusal
from tests.support.waiting import eventually


def indexed(session_id: uuid.UUID, tenant_id: str, expires_at: datetime) -> IndexedSession:
    """A session as cleanup's index knows it."""
    return IndexedSession(
        id=session_id,
        tenant_id=tenant_id,
        status=UploadStatus.UPLOADING,
        bucket="intake-contract",
        temp_key=keys.temp_key(session_id),
        multipart_upload_id=None,
        expires_at=expires_at,
        last_event_at=expires_at - timedelta(days=1),
        active_since=expires_at - timedelta(days=1),
        asset_id=None,
        asset_created=False,
        asset_promoted=False,
    )


def of_index(seeded: Seeded) -> IndexedSession:
    return indexed(seeded.session_id, seeded.owner.tenant_id, seeded.expires_at)


# A direct upload made into an Asset through completion: its session.
CompletedUpload = Callable[[], Awaitable[Seeded]]


class CleanupOutboundContract:
    """What the cleanup jobs rely on from any OutboundCommands (initiation and completion). Times
    are the real clock's: the real services' sessions are made now."""

    async def test_live_sessions_are_failed_and_the_others_named_where_they_stand(
        self, outbound: OutboundCommands, seed: Seed
    ) -> None:
        live, cancelled, misfiled = (
            await seed("uploading"),
            await seed("cancelled"),
            await seed("uploading"),
        )
        unknown = indexed(uuid.uuid4(), live.owner.tenant_id, live.expires_at)
        # A row naming the wrong tenant finds nothing: each is looked up in its own.
        wrong_tenant = dataclasses.replace(of_index(misfiled), tenant_id="t-wrong")
        batch = [of_index(live), of_index(cancelled), unknown, wrong_tenant]
        result = await outbound.fail_sessions(batch, "abandoned")
        assert result.moved == [live.session_id]
        assert [(v.upload_session_id, v.status) for v in result.unchanged] == [
            (cancelled.session_id, UploadStatus.CANCELLED)
        ]
        again = await outbound.fail_sessions([of_index(live)], "abandoned")
        assert (again.moved, [v.status for v in again.unchanged]) == ([], [UploadStatus.FAILED])

    async def test_a_session_active_since_the_cutoff_or_not_yet_expired_is_spared(
        self, outbound: OutboundCommands, seed: Seed
    ) -> None:
        seeded = await seed("uploading")
        session, now = of_index(seeded), datetime.now(UTC)
        for spared in (
            await outbound.fail_sessions(
                [session], "abandoned", idle_before=now - timedelta(hours=1)
            ),
            await outbound.fail_sessions([session], "expired", expired_at=now),
        ):
            assert (spared.moved, [v.status for v in spared.unchanged]) == (
                [],
                [UploadStatus.UPLOADING],
            )
        idle = await outbound.fail_sessions(
            [session], "abandoned", idle_before=now + timedelta(minutes=5)
        )
        assert idle.moved == [seeded.session_id]

    async def test_a_completed_upload_is_answered_with_its_one_asset(
        self, outbound: OutboundCommands, seed: Seed, completed_upload: CompletedUpload
    ) -> None:
        done = of_index(await completed_upload())
        first, second = await outbound.complete(done), await outbound.complete(done)
        assert first.asset.asset_id == second.asset.asset_id == keys.asset_id_for(done.id)
        assert (second.created, second.asset.tenant_id) == (False, done.tenant_id)
        cancelled = of_index(await seed("cancelled"))
        unknown = indexed(uuid.uuid4(), done.tenant_id, done.expires_at)
        assert [
            (await refusal(outbound.complete(cancelled)))[0],
            await refusal(outbound.complete(unknown)),
        ] == [ErrorCode.UPLOAD_CANCELLED, MISSING]

    async def test_nothing_finished_before_the_beginning_is_pruned(
        self, outbound: OutboundCommands
    ) -> None:
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        for pruned in (
            await outbound.prune_sessions(epoch, 10),
            await outbound.prune_completions(epoch, 10),
        ):
            assert pruned.removed == 0
            assert pruned.exhausted(10)

    async def test_a_key_no_saga_owns_is_not_promoting(self, outbound: OutboundCommands) -> None:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        assert (
            await outbound.promoting_keys(tenant, [keys.asset_key(tenant, uuid.uuid4())]) == set()
        )

    async def test_no_reply_in_time_and_a_broker_that_does_not_take_it_are_told_apart(
        self, stalled: OutboundCommands, unreachable: OutboundCommands
    ) -> None:
        nobody = indexed(uuid.uuid4(), "t-nobody", NOW)
        with pytest.raises(ReplyTimeoutError):
            await stalled.fail_sessions([nobody], "abandoned")
        with pytest.raises(BrokerUnavailableError):
            await unreachable.fail_sessions([nobody], "abandoned")


# A reply topic held by a live consumer / one nobody holds / a topic that is no reply topic.
NewTopic = Callable[[], Awaitable[str]]


class ReplyTopicsContract:
    """What cleanup's sweep-reply-topics relies on from any ReplyTopics."""

    async def test_each_reply_topic_is_listed_with_whether_a_consumer_holds_it(
        self, topics: ReplyTopics, claimed: NewTopic, unclaimed: NewTopic, elsewhere: NewTopic
    ) -> None:
        held, dead, other = await claimed(), await unclaimed(), await elsewhere()
        live = await topics.liveness()
        assert (live.get(held), live.get(dead), other in live) == (True, False, False)
        assert all(topic.startswith(topics.prefix()) for topic in live)

    async def test_a_deleted_topic_is_gone_and_deleting_it_again_is_no_error(
        self, topics: ReplyTopics, unclaimed: NewTopic
    ) -> None:
        dead = await unclaimed()
        assert await topics.delete([dead]) == {dead: None}
        # Kafka deletes a topic in the background: gone soon after, not at the answer.
        await eventually(topics.liveness, lambda live: dead not in live)
        assert await topics.delete([dead]) == {dead: None}
