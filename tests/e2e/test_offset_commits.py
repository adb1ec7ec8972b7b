"""Command consumers commit what they handled, however few commands arrive: the interval
between commits (commits.py) delays a commit, it never drops one."""

import httpx
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.consumer import AIOKafkaConsumer

from intake_contracts import topics
from intake_initiation.settings import SERVICE
from intake_runtime.messaging import names
from intake_runtime.messaging.access import KafkaAccess
from tests.conftest import Caller, System
from tests.support import stack
from tests.support.api import initiate
from tests.support.waiting import eventually


async def _lag(bootstrap: KafkaAccess) -> int:
    """Commands of initiation's group not yet committed, over every partition."""
    topic, group = (
        names.topic(topics.INITIATION_COMMANDS),
        names.group(topics.CONSUMER_GROUPS[SERVICE]),
    )
    admin = AIOKafkaAdminClient(**bootstrap.client_options())
    consumer = AIOKafkaConsumer(**bootstrap.client_options())
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        return sum(
            end - committed[tp].offset if tp in committed else end for tp, end in ends.items()
        )
    finally:
        await consumer.stop()
        await admin.close()


async def test_every_handled_command_is_committed_within_an_interval(
    system: System, api: httpx.AsyncClient, caller: Caller
) -> None:
    for size in (100, 101, 102):  # sent one after the other: within one commit interval
        await initiate(api, caller, size)

    async def lag() -> int:
        return await _lag(stack.kafka_access(system.env))

    await eventually(lag, lambda behind: behind == 0)
