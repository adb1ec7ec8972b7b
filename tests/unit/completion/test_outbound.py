"""The OutboundCommands contract held by the in-memory initiation (the request/reply adapter runs
the same suite against the real initiation in tests/e2e/test_outbound_ports.py)."""

from datetime import timedelta

import pytest

from intake_contracts.envelope import Principal
from intake_contracts.sessions import UploadStatus
from tests.support.contracts.common import NOW
from tests.support.contracts.completion import new_record
from tests.support.contracts.completion_outbound import CompletionOutboundContract
from tests.support.contracts.outbound import Seed, Seeded
from tests.support.fakes.completion_outbound import FakeCompletionOutbound
from tests.support.fakes.runtime import FakeClock

STATUS = {
    "uploading": UploadStatus.UPLOADING,
    "cancelled": UploadStatus.CANCELLED,
    "expired": UploadStatus.UPLOADING,
}


class TestFakeCompletionOutbound(CompletionOutboundContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock(NOW)

    @pytest.fixture
    def outbound(self, clock: FakeClock) -> FakeCompletionOutbound:
        return FakeCompletionOutbound(clock)

    @pytest.fixture
    def seed(self, outbound: FakeCompletionOutbound, clock: FakeClock) -> Seed:
        async def seed(state: str) -> Seeded:
            record = new_record(b"hello", bucket="intake-contract")
            if state == "expired":
                record = record.model_copy(update={"expires_at": clock() - timedelta(minutes=1)})
            record = record.model_copy(update={"status": STATUS[state]})
            outbound.sessions[record.upload_session_id] = record
            owner = Principal(user_id="u", tenant_id=record.tenant_id, brand_ids=("b",))
            return Seeded(record.upload_session_id, owner, record.expires_at)

        return seed

    @pytest.fixture
    def owner(self) -> Principal:
        return Principal(user_id="u", tenant_id="t-owner", brand_ids=("b",))

    @pytest.fixture
    def stalled(self, outbound: FakeCompletionOutbound) -> FakeCompletionOutbound:
        outbound.stall()
        return outbound

    @pytest.fixture
    def unreachable(self, outbound: FakeCompletionOutbound) -> FakeCompletionOutbound:
        outbound.cut_off()
        return outbound
