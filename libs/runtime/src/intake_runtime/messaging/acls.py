"""Kafka ACLs: what each principal of an Intake deployment may do, and granting them.

Nothing is allowed unless granted here (the brokers run with
`allow.everyone.if.no.acl.found=false`). The grants are literal names under the deployment's
namespace (`INTAKE_NAMESPACE`), except for reply topics and their presence groups, which are
named per process instance and granted by prefix. `intake-ops provision-topics`, run as the
deployment's admin principal, creates the topics and grants these; granting twice is harmless.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest

from intake_contracts import topics
from intake_runtime.messaging.access import KafkaAccess

# The principal (SASL user name) of each service, of the example subscriber, and of operators.
SERVICE_PRINCIPALS: Final = ("gateway", "initiation", "completion", "cleanup", "audit")
SUBSCRIBER: Final = "subscriber"
OPS: Final = "ops"
PRINCIPALS: Final = (*SERVICE_PRINCIPALS, SUBSCRIBER, OPS)
# Consumer groups a subscriber may use: any group whose id starts with this (under the namespace).
SUBSCRIBER_GROUP_PREFIX: Final = "intake-subscriber"


class Resource(IntEnum):
    TOPIC = 2
    GROUP = 3


class Pattern(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    DESCRIBE = 8


_ALLOW: Final = 3


@dataclass(frozen=True, order=True)
class Grant:
    """One allow rule: `principal` may do `operation` on the resource."""

    principal: str
    operation: Operation
    resource: Resource
    name: str
    pattern: Pattern = Pattern.LITERAL


# Who sends each command topic's commands (the gateway for users; services for themselves; ops
# asks cleanup to run a job), and who consumes it.
COMMAND_WRITERS: Final = {
    topics.INITIATION_COMMANDS: ("gateway",),
    topics.INITIATION_SERVICE_COMMANDS: ("completion", "cleanup"),
    topics.COMPLETION_COMMANDS: ("gateway",),
    topics.COMPLETION_SERVICE_COMMANDS: ("cleanup",),
    topics.CLEANUP_COMMANDS: (OPS,),
    topics.AUDIT_QUERIES: ("gateway",),
}
# Each event topic is written by the outbox relays of these services.
EVENT_WRITERS: Final = {
    topics.UPLOAD_EVENTS: ("initiation",),
    topics.ASSET_EVENTS: ("completion", "cleanup"),
    topics.CLEANUP_EVENTS: ("cleanup",),
}
EVENT_READERS: Final = ("audit", "cleanup", SUBSCRIBER)
# The processes that send commands and await replies on reply topics of their own; only a
# topic's owner creates, reads and deletes it. A service answering a command writes the reply
# topics of those its command topics' ACLs let send to it (`answered_owners`), no other.
REPLY_OWNERS: Final = ("gateway", "completion", "cleanup", OPS)


def consumer_groups() -> dict[str, tuple[str, ...]]:
    """Each service's consumer groups (logical names), one owner each."""
    return {
        "initiation": (topics.CONSUMER_GROUPS["initiation"],),
        "completion": (topics.CONSUMER_GROUPS["completion"],),
        "cleanup": (
            topics.CONSUMER_GROUPS["cleanup"],
            *CLEANUP_EVENT_GROUPS,
        ),
        "audit": (topics.CONSUMER_GROUPS["audit"], f"{topics.CONSUMER_GROUPS['audit']}-queries"),
    }


# cleanup's event consumers (intake_cleanup.handlers INDEX_GROUP and ASSETS_GROUP: a unit test
# keeps them equal) and the replay tool's group (ops.letters.REPLAY_GROUP).
CLEANUP_EVENT_GROUPS: Final = ("intake-cleanup-index", "intake-cleanup-assets")
OPS_REPLAY_GROUP: Final = "intake-ops-dlq-replay"


def grants(namespace: str) -> list[Grant]:
    """Every grant of a deployment whose topics and groups live under `namespace`."""

    def name(logical: str) -> str:
        return f"{namespace}.{logical}" if namespace else logical

    found: set[Grant] = set()

    def allow(who: Iterable[str], operation: Operation, resource: Resource, logical: str) -> None:
        found.update(Grant(user, operation, resource, name(logical)) for user in who)

    consumers = {
        topic: service for service, owned in topics.COMMAND_TOPICS.items() for topic in owned
    }
    for topic, writers in COMMAND_WRITERS.items():
        allow(writers, Operation.WRITE, Resource.TOPIC, topic)
        allow([consumers[topic]], Operation.READ, Resource.TOPIC, topic)
        # A command its consumer cannot handle is parked by that consumer; ops reads and replays.
        allow([consumers[topic]], Operation.WRITE, Resource.TOPIC, topics.dead_letter_topic(topic))
    for topic, writers in EVENT_WRITERS.items():
        allow(writers, Operation.WRITE, Resource.TOPIC, topic)
        allow(EVENT_READERS, Operation.READ, Resource.TOPIC, topic)
        allow(
            ["audit", "cleanup"], Operation.WRITE, Resource.TOPIC, topics.dead_letter_topic(topic)
        )
    for service, groups in consumer_groups().items():
        for group in groups:
            allow([service], Operation.READ, Resource.GROUP, group)
    found.add(
        Grant(
            SUBSCRIBER,
            Operation.READ,
            Resource.GROUP,
            name(SUBSCRIBER_GROUP_PREFIX),
            Pattern.PREFIXED,
        )
    )
    found.update(_reply_grants(name))
    found.update(_ops_grants(name))
    return sorted(found)


def answered_owners() -> dict[str, tuple[str, ...]]:
    """Each answering service, and the reply-topic owners whose commands it answers: those
    allowed to write its command topics."""
    answered: dict[str, set[str]] = {}
    for service, owned in topics.COMMAND_TOPICS.items():
        senders = {writer for topic in owned for writer in COMMAND_WRITERS[topic]}
        answered[service] = senders & set(REPLY_OWNERS)
    return {service: tuple(sorted(owners)) for service, owners in answered.items()}


def _reply_grants(name: Callable[[str], str]) -> set[Grant]:
    found: set[Grant] = set()

    def replies_of(owner: str) -> str:
        return name(f"{topics.REPLY_TOPIC_PREFIX}{owner}.")

    for owner in REPLY_OWNERS:
        prefix = replies_of(owner)
        for operation in (Operation.CREATE, Operation.READ, Operation.DELETE):
            found.add(Grant(owner, operation, Resource.TOPIC, prefix, Pattern.PREFIXED))
        # The reply consumer's presence group is named like its topic (requests.py).
        found.add(Grant(owner, Operation.READ, Resource.GROUP, prefix, Pattern.PREFIXED))
    for answerer, owners in answered_owners().items():
        found.update(
            Grant(answerer, Operation.WRITE, Resource.TOPIC, replies_of(owner), Pattern.PREFIXED)
            for owner in owners
        )
    every = name(topics.REPLY_TOPIC_PREFIX)
    # cleanup removes the reply topics of instances that are gone: it sees every reply topic
    # and presence group, and may delete the topics, but reads none of them.
    for operation, resource in (
        (Operation.DESCRIBE, Resource.TOPIC),
        (Operation.DELETE, Resource.TOPIC),
        (Operation.DESCRIBE, Resource.GROUP),
    ):
        found.add(Grant("cleanup", operation, resource, every, Pattern.PREFIXED))
    return found


def _ops_grants(name: Callable[[str], str]) -> set[Grant]:
    """ops reads and replays dead letters (writing them back to their source topic) and
    describes every group and topic for `intake-ops groups`."""
    found: set[Grant] = set()
    for source in topics.SHARED_TOPICS:
        dead = name(topics.dead_letter_topic(source))
        found.add(Grant(OPS, Operation.READ, Resource.TOPIC, dead))
        found.add(Grant(OPS, Operation.WRITE, Resource.TOPIC, name(source)))
        found.add(Grant(OPS, Operation.DESCRIBE, Resource.TOPIC, name(source)))
    found.add(Grant(OPS, Operation.READ, Resource.GROUP, name(OPS_REPLAY_GROUP)))
    groups = {group for owned in consumer_groups().values() for group in owned}
    found.update(Grant(OPS, Operation.DESCRIBE, Resource.GROUP, name(group)) for group in groups)
    return found


async def grant(access: KafkaAccess, wanted: Iterable[Grant]) -> None:
    """Create the ACLs (an existing one is left as it is). `access` must be allowed to alter
    ACLs: the deployment's admin principal.

    Raises:
        KafkaError: the broker refused one of them.
    """
    client = AIOKafkaClient(**access.client_options(), request_timeout_ms=10_000)
    await client.bootstrap()
    try:
        node = client.get_random_node()
        for item in wanted:
            request = CreateAclsRequest(
                item.resource,
                item.name,
                item.pattern,
                f"User:{item.principal}",
                "*",
                item.operation,
                _ALLOW,
            )
            response = await client.send(node, request)
            for error_code, error_message in response.creation_responses:
                if error_code:
                    raise for_code(error_code)(f"{item}: {error_message}")
    finally:
        await client.close()
