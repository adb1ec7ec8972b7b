"""Every command type has its typed spec, and the topics that carry it."""

import pytest

from intake_contracts import topics
from intake_contracts.commands import COMMAND_MODELS, CommandType


def test_every_command_type_has_models_and_a_topic() -> None:
    assert set(COMMAND_MODELS) == set(CommandType)
    carried = {t for types in topics.TOPIC_COMMANDS.values() for t in types}
    assert carried == set(CommandType)
    for topic in topics.TOPIC_COMMANDS:
        assert topic in topics.SHARED_TOPICS


def test_every_command_topic_is_either_for_users_or_for_services() -> None:
    assert not topics.USER_COMMAND_TOPICS & topics.SERVICE_COMMAND_TOPICS
    assert set(topics.TOPIC_COMMANDS) == topics.USER_COMMAND_TOPICS | topics.SERVICE_COMMAND_TOPICS


@pytest.mark.parametrize(
    ("command", "by_service", "topic"),
    [
        (CommandType.INITIATE, False, topics.INITIATION_COMMANDS),
        (CommandType.MARK_COMPLETED, True, topics.INITIATION_SERVICE_COMMANDS),
        (CommandType.FAIL_SESSIONS, True, topics.INITIATION_SERVICE_COMMANDS),
        (CommandType.COMPLETE, False, topics.COMPLETION_COMMANDS),
        (CommandType.COMPLETE, True, topics.COMPLETION_SERVICE_COMMANDS),
        (CommandType.PRUNE_COMPLETION_RECORDS, True, topics.COMPLETION_SERVICE_COMMANDS),
        (CommandType.RUN_CLEANUP_JOB, True, topics.CLEANUP_COMMANDS),
        (CommandType.GET_EVENTS, False, topics.AUDIT_QUERIES),
    ],
)
def test_a_command_travels_on_its_senders_topic(
    command: CommandType, by_service: bool, topic: str
) -> None:
    assert topics.command_topic(command, by_service=by_service) == topic


@pytest.mark.parametrize("by_service", [False, True])
def test_a_command_only_one_topic_carries_goes_there_whoever_sends_it(by_service: bool) -> None:
    # completion asks for begin_completion with the principal of the user it acts for.
    assert (
        topics.command_topic(CommandType.BEGIN_COMPLETION, by_service=by_service)
        == topics.INITIATION_SERVICE_COMMANDS
    )
    assert topics.command_topic(CommandType.INITIATE, by_service=by_service) == (
        topics.INITIATION_COMMANDS
    )
