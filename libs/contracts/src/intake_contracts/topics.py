"""Kafka topic names: the only place they are spelled."""

from typing import Final

INITIATION_COMMANDS: Final = "intake.initiation.commands"
COMPLETION_COMMANDS: Final = "intake.completion.commands"
CLEANUP_COMMANDS: Final = "intake.cleanup.commands"
AUDIT_QUERIES: Final = "intake.audit.queries"
UPLOAD_EVENTS: Final = "intake.uploads.events"
ASSET_EVENTS: Final = "intake.assets.events"
CLEANUP_EVENTS: Final = "intake.cleanup.events"
REPLY_TOPIC_PREFIX: Final = "intake.replies."
DEAD_LETTER_SUFFIX: Final = ".dlq"

SHARED_TOPICS: Final = (
    INITIATION_COMMANDS,
    COMPLETION_COMMANDS,
    CLEANUP_COMMANDS,
    AUDIT_QUERIES,
    UPLOAD_EVENTS,
    ASSET_EVENTS,
    CLEANUP_EVENTS,
)


def dead_letter_topic(source_topic: str) -> str:
    """Where a message of `source_topic` goes when it cannot be decoded or keeps failing."""
    return f"{source_topic}{DEAD_LETTER_SUFFIX}"


DEAD_LETTER_TOPICS: Final = tuple(dead_letter_topic(topic) for topic in SHARED_TOPICS)

CONSUMER_GROUPS: Final = {
    "initiation": "intake-initiation",
    "completion": "intake-completion",
    "cleanup": "intake-cleanup",
    "audit": "intake-audit",
}

# Which topic carries a service's commands; a command type is `<service>.<verb>`.
COMMAND_TOPICS: Final = {
    "initiation": INITIATION_COMMANDS,
    "completion": COMPLETION_COMMANDS,
    "cleanup": CLEANUP_COMMANDS,
    "audit": AUDIT_QUERIES,
}


def command_topic(command_type: str) -> str:
    """The topic a command of `command_type` is sent to."""
    return COMMAND_TOPICS[command_type.split(".", 1)[0]]


def reply_topic(service: str, instance_id: str) -> str:
    """Each caller instance owns one reply topic, consumed without a group."""
    return f"{REPLY_TOPIC_PREFIX}{service}.{instance_id}"
