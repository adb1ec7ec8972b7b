"""Every command type has its typed spec, and its topic."""

from intake_contracts import topics
from intake_contracts.commands import COMMAND_MODELS, CommandType


def test_every_command_type_has_models_and_a_topic() -> None:
    assert set(COMMAND_MODELS) == set(CommandType)
    for command_type in CommandType:
        assert topics.command_topic(command_type) in topics.SHARED_TOPICS
