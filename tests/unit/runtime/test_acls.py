"""The Kafka ACLs of a deployment, as a table: who may do what, and nothing else."""

import pytest

from intake_cleanup import handlers as cleanup_handlers
from intake_contracts import topics
from intake_runtime.messaging import acls
from intake_runtime.messaging.acls import Grant, Operation, Pattern, Resource
from intake_runtime.ops import letters

NAMESPACE = "test-abc"


def ns(logical: str) -> str:
    return f"{NAMESPACE}.{logical}"


@pytest.fixture(scope="module")
def grants() -> list[Grant]:
    return acls.grants(NAMESPACE)


def allowed(grants: list[Grant], who: str, operation: Operation, topic: str) -> bool:
    """Whether `who` may do `operation` on the topic, as the broker would match the grants."""
    return any(
        g.principal == who
        and g.operation == operation
        and g.resource == Resource.TOPIC
        and (g.name == topic if g.pattern == Pattern.LITERAL else topic.startswith(g.name))
        for g in grants
    )


def writers(grants: list[Grant], topic: str) -> set[str]:
    return {p for p in (*acls.PRINCIPALS,) if allowed(grants, p, Operation.WRITE, ns(topic))}


def readers(grants: list[Grant], topic: str) -> set[str]:
    return {p for p in (*acls.PRINCIPALS,) if allowed(grants, p, Operation.READ, ns(topic))}


def test_user_commands_come_from_the_gateway_and_service_commands_from_services(
    grants: list[Grant],
) -> None:
    assert writers(grants, topics.INITIATION_COMMANDS) == {"gateway", "ops"}
    assert writers(grants, topics.INITIATION_SERVICE_COMMANDS) == {"completion", "cleanup", "ops"}
    assert writers(grants, topics.COMPLETION_COMMANDS) == {"gateway", "ops"}
    assert writers(grants, topics.COMPLETION_SERVICE_COMMANDS) == {"cleanup", "ops"}
    assert writers(grants, topics.CLEANUP_COMMANDS) == {"ops"}
    assert writers(grants, topics.AUDIT_QUERIES) == {"gateway", "ops"}


def test_events_are_written_by_their_relays_and_read_by_audit_cleanup_and_subscriber(
    grants: list[Grant],
) -> None:
    assert writers(grants, topics.UPLOAD_EVENTS) == {"initiation", "ops"}
    assert writers(grants, topics.ASSET_EVENTS) == {"completion", "cleanup", "ops"}
    assert writers(grants, topics.CLEANUP_EVENTS) == {"cleanup", "ops"}
    for topic in (topics.UPLOAD_EVENTS, topics.ASSET_EVENTS, topics.CLEANUP_EVENTS):
        assert readers(grants, topic) == {"audit", "cleanup", "subscriber"}


def test_the_subscriber_reads_events_and_nothing_else(grants: list[Grant]) -> None:
    mine = [g for g in grants if g.principal == acls.SUBSCRIBER]
    assert {g.operation for g in mine} == {Operation.READ}
    read_topics = {g.name for g in mine if g.resource == Resource.TOPIC}
    assert read_topics == {
        ns(t) for t in (topics.UPLOAD_EVENTS, topics.ASSET_EVENTS, topics.CLEANUP_EVENTS)
    }


def test_dead_letters_are_read_only_by_ops(grants: list[Grant]) -> None:
    for source in topics.SHARED_TOPICS:
        assert readers(grants, topics.dead_letter_topic(source)) == {"ops"}


def test_reply_topics_are_read_only_by_their_owner(grants: list[Grant]) -> None:
    for owner in acls.REPLY_OWNERS:
        topic = ns(topics.reply_topic(owner, "i-1"))
        who_reads = {p for p in acls.PRINCIPALS if allowed(grants, p, Operation.READ, topic)}
        assert who_reads == {owner}
        who_creates = {p for p in acls.PRINCIPALS if allowed(grants, p, Operation.CREATE, topic)}
        assert who_creates == {owner}
        assert not allowed(grants, "subscriber", Operation.WRITE, topic)
        assert not allowed(grants, "gateway", Operation.WRITE, topic)


def test_reply_topics_are_written_only_by_the_services_that_answer_their_owner(
    grants: list[Grant],
) -> None:
    answered_by = {
        "gateway": {"initiation", "completion", "audit"},
        "completion": {"initiation"},
        "cleanup": {"initiation", "completion"},
        acls.OPS: {"cleanup"},
    }
    assert set(answered_by) == set(acls.REPLY_OWNERS)
    for owner, answerers in answered_by.items():
        topic = ns(topics.reply_topic(owner, "i-1"))
        who_writes = {p for p in acls.PRINCIPALS if allowed(grants, p, Operation.WRITE, topic)}
        assert who_writes == answerers, owner


def test_each_consumer_group_has_one_owner(grants: list[Grant]) -> None:
    owners: dict[str, set[str]] = {}
    for g in grants:
        if g.resource == Resource.GROUP and g.operation == Operation.READ:
            owners.setdefault(g.name, set()).add(g.principal)
    assert all(len(who) == 1 for who in owners.values()), owners
    assert owners[ns(topics.CONSUMER_GROUPS["initiation"])] == {"initiation"}


def test_grants_are_under_the_namespace_or_bare_without_one() -> None:
    assert all(g.name.startswith(f"{NAMESPACE}.") for g in acls.grants(NAMESPACE))
    assert all(not g.name.startswith(".") for g in acls.grants(""))
    assert Grant("gateway", Operation.WRITE, Resource.TOPIC, topics.INITIATION_COMMANDS) in (
        acls.grants("")
    )


def test_group_names_match_the_services_own() -> None:
    assert acls.CLEANUP_EVENT_GROUPS == (
        cleanup_handlers.INDEX_GROUP,
        cleanup_handlers.ASSETS_GROUP,
    )
    assert acls.OPS_REPLAY_GROUP == letters.REPLAY_GROUP
