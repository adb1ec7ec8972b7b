"""The ReplyTopics contract held by the in-memory broker view (the Kafka admin adapter runs
the same suite in tests/integration/test_cleanup_ports.py)."""

import uuid

import pytest

from tests.support.contracts.cleanup_outbound import NewTopic, ReplyTopicsContract
from tests.support.fakes.cleanup_outbound import FakeReplyTopics


class TestFakeReplyTopics(ReplyTopicsContract):
    @pytest.fixture
    def topics(self) -> FakeReplyTopics:
        return FakeReplyTopics()

    def _new(self, topics: FakeReplyTopics, prefix: str, *, live: bool) -> NewTopic:
        async def new() -> str:
            name = f"{prefix}{uuid.uuid4().hex}"
            topics.topics[name] = live
            return name

        return new

    @pytest.fixture
    def claimed(self, topics: FakeReplyTopics) -> NewTopic:
        return self._new(topics, topics.prefix(), live=True)

    @pytest.fixture
    def unclaimed(self, topics: FakeReplyTopics) -> NewTopic:
        return self._new(topics, topics.prefix(), live=False)

    @pytest.fixture
    def elsewhere(self, topics: FakeReplyTopics) -> NewTopic:
        return self._new(topics, "intake.uploads.", live=True)
