"""Reply topics as the broker sees them: which exist in this namespace, and which have a live
consumer (a member in the presence group named like the topic, see requests.py)."""

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError, for_code

from intake_contracts import topics
from intake_runtime.messaging import names
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.kafka import admin_client

# Group states in which the group has no member; a group never created is as good as dead.
_MEMBERLESS = frozenset({"Empty", "Dead"})
_UNKNOWN_TOPIC = UnknownTopicOrPartitionError.errno


def reply_prefix() -> str:
    """The physical prefix of this system's reply topics (namespace included)."""
    return names.topic(topics.REPLY_TOPIC_PREFIX)


async def reply_topics_liveness(access: KafkaAccess) -> dict[str, bool]:
    """Every reply topic of this namespace, and whether a consumer holds it now."""
    admin = await admin_client(access)
    try:
        prefix = reply_prefix()
        found = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        if not found:
            return {}
        live = await _groups_with_members(admin, found)
        return {topic: topic in live for topic in found}
    finally:
        await admin.close()


async def _groups_with_members(admin: AIOKafkaAdminClient, groups: list[str]) -> set[str]:
    """Only groups the broker lists are described, one at a time: describing a group that does
    not exist returns a record aiokafka cannot decode."""
    wanted = set(groups)
    existing = sorted(g for g, _ in await admin.list_consumer_groups() if g in wanted)
    with_members: set[str] = set()
    for group_id in existing:
        for response in await admin.describe_consumer_groups([group_id]):
            for group in response.groups:
                error_code, _, state, _, _, members = group[:6]
                if error_code == 0 and state not in _MEMBERLESS and members:
                    with_members.add(group_id)
    return with_members


async def delete_topics(access: KafkaAccess, doomed: list[str]) -> dict[str, str | None]:
    """Delete the topics; per topic None when deleted (or already gone), else the error."""
    admin = await admin_client(access)
    try:
        response = await admin.delete_topics(doomed)
    finally:
        await admin.close()
    outcome: dict[str, str | None] = dict.fromkeys(doomed, "no answer for this topic")
    for topic, code in response.topic_error_codes:
        error = for_code(code)
        outcome[topic] = None if code in {0, _UNKNOWN_TOPIC} else f"{error.__name__} ({code})"
    return outcome


class KafkaReplyTopics:
    """Cleanup's ReplyTopics port over the Kafka admin client."""

    def __init__(self, access: KafkaAccess) -> None:
        self._access = access

    def prefix(self) -> str:
        return reply_prefix()

    async def liveness(self) -> dict[str, bool]:
        return await reply_topics_liveness(self._access)

    async def delete(self, doomed: list[str]) -> dict[str, str | None]:
        return await delete_topics(self._access, doomed)
