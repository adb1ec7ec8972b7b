"""Consumer groups as an operator reads them: members, their partitions, and lag."""

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from intake_runtime.messaging import names
from intake_runtime.messaging.access import KafkaAccess


@dataclass(frozen=True)
class MemberView:
    client_id: str
    partitions: list[str]
    lag: int


@dataclass(frozen=True)
class GroupView:
    group: str
    state: str
    members: list[MemberView]
    lag: int


def _assignment(raw: bytes) -> list[TopicPartition]:
    if not raw:
        return []
    decoded = ConsumerProtocolMemberAssignment.decode(raw)
    return [TopicPartition(topic, p) for topic, numbers in decoded.assignment for p in numbers]


def _label(partition: TopicPartition) -> str:
    return f"{names.logical(partition.topic)}[{partition.partition}]"


async def describe_groups(access: KafkaAccess) -> list[GroupView]:
    """Every consumer group of this namespace; lag is the high watermark minus the committed
    offset (the whole partition when nothing is committed yet)."""
    admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        prefix = names.group("intake-")
        listed = sorted(g for g, _ in await admin.list_consumer_groups() if g.startswith(prefix))
        return [await _group_view(admin, consumer, group) for group in listed]
    finally:
        await consumer.stop()
        await admin.close()


async def _group_view(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str
) -> GroupView:
    [response] = await admin.describe_consumer_groups([group])
    _, _, state, _, _, raw_members = response.groups[0][:6]
    members = [(member[1], _assignment(member[-1])) for member in raw_members]
    committed = await admin.list_consumer_group_offsets(group)
    partitions = {tp for _, assigned in members for tp in assigned} | set(committed)
    ends = await consumer.end_offsets(list(partitions)) if partitions else {}

    def lag_of(partition: TopicPartition) -> int:
        done = committed.get(partition)
        return int(
            max(ends.get(partition, 0) - (done.offset if done and done.offset >= 0 else 0), 0)
        )

    views = [
        MemberView(client, sorted(map(_label, assigned)), sum(map(lag_of, assigned)))
        for client, assigned in sorted(members)
    ]
    return GroupView(names.logical(group), state, views, sum(map(lag_of, partitions)))


def print_groups(groups: Sequence[GroupView]) -> None:
    for group in groups:
        print(f"{group.group}: {group.state}, lag {group.lag}")  # noqa: T201 - the output
        for member in group.members:
            shown = ", ".join(member.partitions) or "no partitions"
            print(f"  {member.client_id}: lag {member.lag}; {shown}")  # noqa: T201
