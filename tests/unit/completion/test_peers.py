"""The SessionPeers contract held by the in-memory initiation (the request/reply adapter runs
the same suite against the real initiation in tests/e2e/test_peer_ports.py)."""

from datetime import timedelta

import pytest

from intake_contracts.envelope import Principal
from intake_contracts.sessions import UploadStatus
from tests.support.contracts.common import NOW
from tests.support.contracts.completion import new_record
from tests.support.contracts.completion_peers import SessionPeersContract
from tests.support.contracts.peers import Seed, Seeded
from tests.support.fakes.completion_peers import FakeInitiation
from tests.support.fakes.runtime import FakeClock

STATUS = {
    "uploading": UploadStatus.UPLOADING,
    "cancelled": UploadStatus.CANCELLED,
    "expired": UploadStatus.UPLOADING,
}


class TestFakeInitiation(SessionPeersContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock(NOW)

    @pytest.fixture
    def peers(self, clock: FakeClock) -> FakeInitiation:
        return FakeInitiation(clock)

    @pytest.fixture
    def seed(self, peers: FakeInitiation, clock: FakeClock) -> Seed:
        async def seed(state: str) -> Seeded:
            record = new_record(b"hello", bucket="intake-contract")
            if state == "expired":
                record = record.model_copy(update={"expires_at": clock() - timedelta(minutes=1)})
            record = record.model_copy(update={"status": STATUS[state]})
            peers.sessions[record.upload_session_id] = record
            owner = Principal(user_id="u", tenant_id=record.tenant_id, brand_ids=("b",))
            return Seeded(record.upload_session_id, owner, record.expires_at)

        return seed

    @pytest.fixture
    def owner(self) -> Principal:
        return Principal(user_id="u", tenant_id="t-owner", brand_ids=("b",))

    @pytest.fixture
    def stalled(self, peers: FakeInitiation) -> FakeInitiation:
        peers.stall()
        return peers

    @pytest.fixture
    def unreachable(self, peers: FakeInitiation) -> FakeInitiation:
        peers.cut_off()
        return peers
