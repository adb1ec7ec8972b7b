"""Kafka topic names: the only place they are spelled."""

from typing import Final

INITIATION_COMMANDS: Final = "intake.initiation.commands"
COMPLETION_COMMANDS: Final = "intake.completion.commands"
# Commands only Intake's own services send (status changes, pruning, lookups), apart from the
# user commands the gateway forwards, so that a broker ACL can say who may write which.
INITIATION_SERVICE_COMMANDS: Final = "intake.initiation.service-commands"
COMPLETION_SERVICE_COMMANDS: Final = "intake.completion.service-commands"
CLEANUP_COMMANDS: Final = "intake.cleanup.commands"
AUDIT_QUERIES: Final = "intake.audit.queries"
UPLOAD_EVENTS: Final = "intake.uploads.events"
ASSET_EVENTS: Final = "intake.assets.events"
CLEANUP_EVENTS: Final = "intake.cleanup.events"
REPLY_TOPIC_PREFIX: Final = "intake.replies."
DEAD_LETTER_SUFFIX: Final = ".dlq"

SHARED_TOPICS: Final = (
    INITIATION_COMMANDS,
    INITIATION_SERVICE_COMMANDS,
    COMPLETION_COMMANDS,
    COMPLETION_SERVICE_COMMANDS,
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

# The topics each service consumes commands from; a command type is `<service>.<verb>`.
COMMAND_TOPICS: Final = {
    "initiation": (INITIATION_COMMANDS, INITIATION_SERVICE_COMMANDS),
    "completion": (COMPLETION_COMMANDS, COMPLETION_SERVICE_COMMANDS),
    "cleanup": (CLEANUP_COMMANDS,),
    "audit": (AUDIT_QUERIES,),
}

# Topics whose commands come from a user (through the gateway, with the user's verified
# claims); every other command topic carries only commands a service sends as itself.
USER_COMMAND_TOPICS: Final = frozenset({INITIATION_COMMANDS, COMPLETION_COMMANDS, AUDIT_QUERIES})
SERVICE_COMMAND_TOPICS: Final = frozenset(
    {INITIATION_SERVICE_COMMANDS, COMPLETION_SERVICE_COMMANDS, CLEANUP_COMMANDS}
)

# Which command types each command topic carries. A command type both kinds send (a user's
# complete, and cleanup finishing a stuck upload) is on both of its service's topics.
TOPIC_COMMANDS: Final[dict[str, frozenset[str]]] = {
    INITIATION_COMMANDS: frozenset(
        {
            "initiation.initiate",
            "initiation.initiate_batch",
            "initiation.sign_parts",
            "initiation.get_session",
            "initiation.resume",
            "initiation.touch_activity",
            "initiation.cancel",
        }
    ),
    INITIATION_SERVICE_COMMANDS: frozenset(
        {
            "initiation.begin_completion",
            "initiation.mark_completed",
            "initiation.mark_failed",
            "initiation.fail_sessions",
            "initiation.prune_terminal_sessions",
        }
    ),
    COMPLETION_COMMANDS: frozenset({"completion.complete"}),
    COMPLETION_SERVICE_COMMANDS: frozenset(
        {
            "completion.complete",
            "completion.prune_completion_records",
            "completion.promoting_keys",
        }
    ),
    CLEANUP_COMMANDS: frozenset({"cleanup.run_job"}),
    AUDIT_QUERIES: frozenset({"audit.get_events"}),
}


# Service commands that carry the principal of the user a service acts for: completion asks
# initiation whether the user's session may be completed, with the user's own claims.
CARRY_USER_PRINCIPAL: Final = frozenset({"initiation.begin_completion"})


def command_topic(command_type: str, *, by_service: bool) -> str:
    """The topic a command of `command_type` is sent to: the one topic that carries it, or,
    for a command both a user and a service may send (complete), the user topic for a user's
    command and the service-command topic for a service acting as itself."""
    owner = COMMAND_TOPICS[command_type.split(".", 1)[0]]
    carrying = [topic for topic in owner if command_type in TOPIC_COMMANDS[topic]]
    if len(carrying) == 1:
        return carrying[0]
    kinds = SERVICE_COMMAND_TOPICS if by_service else USER_COMMAND_TOPICS
    return next(topic for topic in carrying if topic in kinds)


def reply_topic(service: str, instance_id: str) -> str:
    """Each caller instance owns one reply topic, consumed without a group."""
    return f"{REPLY_TOPIC_PREFIX}{service}.{instance_id}"
