"""The sender rule: a principal must fit the command topic its envelope came from."""

import uuid

import pytest

from intake_contracts import topics
from intake_contracts.commands import Commands, CommandType, SessionRef
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.errors import ErrorCode
from intake_contracts.replies import Reply
from intake_runtime import metrics
from intake_runtime.messaging.dispatch import CommandDispatcher, NoTransaction
from intake_runtime.messaging.envelopes import command_envelope, decode, encode
from intake_runtime.messaging.senders import sender_refusal

USER = Principal(user_id="u-1", tenant_id="t-1", brand_ids=("b-1",))
SERVICE = Principal(user_id="system:cleanup", tenant_id="t-1", service="cleanup")


def envelope(command: str, principal: Principal | None) -> Envelope:
    return Envelope(type=command, correlation_id="c", tenant_id="t-1", principal=principal)


@pytest.mark.parametrize(
    ("topic", "command", "principal"),
    [
        (topics.INITIATION_COMMANDS, CommandType.INITIATE, USER),
        (topics.INITIATION_SERVICE_COMMANDS, CommandType.MARK_COMPLETED, SERVICE),
        # completion vouching for the user whose session it is about to complete.
        (topics.INITIATION_SERVICE_COMMANDS, CommandType.BEGIN_COMPLETION, USER),
        (topics.COMPLETION_COMMANDS, CommandType.COMPLETE, USER),
        (topics.COMPLETION_SERVICE_COMMANDS, CommandType.COMPLETE, SERVICE),
        (topics.CLEANUP_COMMANDS, CommandType.RUN_CLEANUP_JOB, SERVICE),
        (topics.AUDIT_QUERIES, CommandType.GET_EVENTS, USER),
        # Not this rule's to answer: the dispatcher says the type is unknown, or the use case
        # that the principal is missing.
        (topics.INITIATION_COMMANDS, "initiation.no_such_thing", USER),
        (topics.INITIATION_COMMANDS, CommandType.INITIATE, None),
        (topics.UPLOAD_EVENTS, "upload.initiated", SERVICE),
    ],
)
def test_a_principal_that_fits_its_topic_passes(
    topic: str, command: str, principal: Principal | None
) -> None:
    assert sender_refusal(topic, envelope(command, principal)) is None


@pytest.mark.parametrize(
    ("topic", "command", "principal", "reason"),
    [
        # A user's claims acting as a service: the forged status change and prune.
        (topics.INITIATION_SERVICE_COMMANDS, CommandType.MARK_COMPLETED, USER, "user principal"),
        (topics.INITIATION_SERVICE_COMMANDS, CommandType.FAIL_SESSIONS, None, "user principal"),
        (topics.INITIATION_SERVICE_COMMANDS, CommandType.BEGIN_COMPLETION, None, "user principal"),
        (topics.COMPLETION_SERVICE_COMMANDS, CommandType.PRUNE_COMPLETION_RECORDS, USER, "user"),
        (topics.CLEANUP_COMMANDS, CommandType.RUN_CLEANUP_JOB, USER, "user principal"),
        # The service role claimed on a user topic (what the gateway's principal can send).
        (topics.INITIATION_COMMANDS, CommandType.INITIATE, SERVICE, "service principal"),
        (topics.COMPLETION_COMMANDS, CommandType.COMPLETE, SERVICE, "service principal"),
        (topics.AUDIT_QUERIES, CommandType.GET_EVENTS, SERVICE, "service principal"),
        # A service-only command smuggled onto the user topic, whatever its principal claims.
        (topics.INITIATION_COMMANDS, CommandType.MARK_COMPLETED, SERVICE, "not accepted"),
        (topics.INITIATION_COMMANDS, CommandType.PRUNE_TERMINAL_SESSIONS, USER, "not accepted"),
        (topics.COMPLETION_COMMANDS, CommandType.PROMOTING_KEYS, USER, "not accepted"),
    ],
)
def test_a_principal_that_does_not_fit_its_topic_is_refused(
    topic: str, command: str, principal: Principal | None, reason: str
) -> None:
    refusal = sender_refusal(topic, envelope(command, principal))
    assert refusal is not None
    assert reason in refusal


async def test_the_dispatcher_refuses_counts_and_parks_a_forged_envelope() -> None:
    dispatcher: CommandDispatcher[None] = CommandDispatcher("tests", NoTransaction())
    handled: list[object] = []

    async def get_events(command: object, tx: None) -> object:
        handled.append(command)
        raise AssertionError("a refused command must not reach its handler")

    dispatcher.register(Commands.GET_EVENTS, get_events, inbox=False)  # type: ignore[arg-type]
    forged = command_envelope(
        Commands.GET_EVENTS.name,
        SessionRef(upload_session_id=uuid.uuid4()),
        correlation_id="c-9",
        principal=SERVICE,
    )
    counter = metrics.REFUSED_ENVELOPES.labels("tests", topics.AUDIT_QUERIES)
    before = counter._value.get()

    reply, poison = await dispatcher.dispatch(encode(forged), topics.AUDIT_QUERIES)

    answer = Reply.model_validate(decode(reply).payload)
    assert answer.error is not None
    assert answer.error.code == ErrorCode.PERMISSION_DENIED
    assert poison is not None
    assert "service principal" in poison
    assert handled == []
    assert counter._value.get() == before + 1
