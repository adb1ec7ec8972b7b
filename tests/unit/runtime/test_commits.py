"""Command consumers commit at most once per interval, never an offset they did not handle."""

import asyncio

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from intake_runtime.messaging.commits import OffsetCommitter

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


class Consumer:
    def __init__(self, failing: bool = False) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.failing = failing

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.failing:
            raise CommitFailedError("rebalanced")
        self.commits.append(dict(offsets))


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_first_command_commits_at_once_and_the_next_ones_together_later() -> None:
    clock, consumer = Clock(), Consumer()
    committer = OffsetCommitter(0.05, clock)
    await committer.handled(consumer, P0, 7)
    assert consumer.commits == [{P0: 8}]  # the offset after the handled message
    await committer.handled(consumer, P0, 8)
    await committer.handled(consumer, P1, 3)
    await committer.handled(consumer, P0, 9)
    assert consumer.commits == [{P0: 8}]  # within the interval: kept
    await asyncio.sleep(0.1)
    assert consumer.commits == [{P0: 8}, {P0: 10, P1: 4}]
    clock.now += 1
    await committer.handled(consumer, P1, 4)  # an interval after the last commit: at once
    assert consumer.commits[-1] == {P1: 5}


async def test_each_consumer_has_its_own_interval_and_close_commits_what_is_pending() -> None:
    clock, first, second = Clock(), Consumer(), Consumer()
    committer = OffsetCommitter(60, clock)
    await committer.handled(first, P0, 1)
    await committer.handled(second, P1, 1)
    await committer.handled(first, P0, 2)
    assert (first.commits, second.commits) == ([{P0: 2}], [{P1: 2}])
    await committer.close()
    assert first.commits == [{P0: 2}, {P0: 3}]
    assert second.commits == [{P1: 2}]  # nothing pending: no empty commit


async def test_a_refused_commit_is_dropped_and_a_zero_interval_commits_every_command() -> None:
    failing, consumer = Consumer(failing=True), Consumer()
    committer = OffsetCommitter(0, Clock())
    await committer.handled(failing, P0, 1)  # logged, not raised: the command is redelivered
    await committer.handled(consumer, P0, 1)
    await committer.handled(consumer, P0, 2)
    assert consumer.commits == [{P0: 2}, {P0: 3}]
