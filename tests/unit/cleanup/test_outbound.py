"""The OutboundCommands contract held by the in-memory initiation and completion (the
request/reply adapter runs the same suite against the real services in
tests/e2e/test_outbound_ports.py)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from intake_contracts import keys
from intake_contracts.envelope import Principal
from intake_contracts.sessions import UploadStatus
from tests.support.cleanup import completed
from tests.support.contracts.cleanup_outbound import (
    CleanupOutboundContract,
    CompletedUpload,
    of_index,
)
from tests.support.contracts.outbound import Seed, Seeded
from tests.support.fakes.cleanup_outbound import FakeCleanupOutbound

STATUS = {"uploading": UploadStatus.UPLOADING, "cancelled": UploadStatus.CANCELLED}


def new_seeded() -> Seeded:
    """A session made now, as the real services' are: the suite's cutoffs are the real clock's."""
    owner = Principal(user_id="u", tenant_id=f"t-{uuid.uuid4().hex[:8]}", brand_ids=("b",))
    return Seeded(uuid.uuid4(), owner, datetime.now(UTC) + timedelta(hours=24))


class TestFakeCleanupOutbound(CleanupOutboundContract):
    @pytest.fixture
    def outbound(self) -> FakeCleanupOutbound:
        return FakeCleanupOutbound()

    @pytest.fixture
    def seed(self, outbound: FakeCleanupOutbound) -> Seed:
        async def seed(state: str) -> Seeded:
            seeded = new_seeded()
            outbound.know(of_index(seeded), STATUS[state], active_at=datetime.now(UTC))
            return seeded

        return seed

    @pytest.fixture
    def completed_upload(self, outbound: FakeCleanupOutbound) -> CompletedUpload:
        async def completed_upload() -> Seeded:
            seeded = new_seeded()
            session = of_index(seeded)
            outbound.know(session, UploadStatus.COMPLETED, active_at=datetime.now(UTC))
            outbound.assets[seeded.session_id] = completed(session, promoted=False)
            assert outbound.assets[seeded.session_id].asset.asset_id == keys.asset_id_for(
                session.id
            )
            return seeded

        return completed_upload

    @pytest.fixture
    def stalled(self) -> FakeCleanupOutbound:
        outbound = FakeCleanupOutbound()
        outbound.stall()
        return outbound

    @pytest.fixture
    def unreachable(self) -> FakeCleanupOutbound:
        outbound = FakeCleanupOutbound()
        outbound.cut_off()
        return outbound
