"""Write the contracts for other subscribers: `intake-docs [DOCS_DIR]`.

Produces DOCS_DIR/schemas/ (JSON Schema of every event and command, from intake_contracts)
and DOCS_DIR/asyncapi.json (AsyncAPI 3 of every topic, built by FastStream from a broker that
declares a publisher per event type and a subscriber per command). Lives in the runtime, not
in the contracts, so the contracts stay free of FastStream. Deterministic: CI regenerates and
compares with the checked-in copy.
"""

import json
import sys
from pathlib import Path
from typing import Any, Literal

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, create_model

from intake_contracts import export, topics
from intake_contracts.commands import COMMAND_MODELS, CommandType
from intake_contracts.envelope import Envelope
from intake_contracts.errors import ErrorBody
from intake_contracts.events import EVENT_MODELS, EventType
from intake_contracts.replies import REPLY_TYPE

SCHEMAS_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.json"
_REPLY_TOPIC = f"{topics.REPLY_TOPIC_PREFIX}{{service}}.{{instance_id}}"


def _camel(dotted: str) -> str:
    return "".join(part.capitalize() for part in dotted.replace(".", "_").split("_"))


def _envelope_of(name: str, message_type: str, payload: type[BaseModel]) -> type[BaseModel]:
    """The Envelope as it travels for one message type: `type` fixed, `payload` typed."""
    # Built at run time from the contracts' tables, so the field types are runtime values.
    fields: dict[str, Any] = {"type": (Literal[message_type], ...), "payload": (payload, ...)}
    return create_model(
        name, __base__=Envelope, __doc__=f"Envelope of `{message_type}` messages.", **fields
    )


def _reply_of(command_type: CommandType, result: type[BaseModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "ok": (bool, ...),
        "result": (result | None, None),
        "error": (ErrorBody | None, None),
    }
    body = create_model(
        f"{_camel(command_type)}Reply",
        __doc__=f"Reply to `{command_type}`: `result` when ok, `error` otherwise.",
        **fields,
    )
    return _envelope_of(f"{_camel(command_type)}ReplyEnvelope", REPLY_TYPE, body)


def _declare_event(broker: KafkaBroker, event_type: EventType) -> None:
    model, topic = EVENT_MODELS[event_type]
    broker.publisher(
        topic,
        title=f"{topic}:{event_type}",
        description=f"`{event_type}` events, key: upload session id where there is one.",
        schema=_envelope_of(f"{_camel(event_type)}Event", event_type, model),
    )


def _declare_command(broker: KafkaBroker, command_type: CommandType) -> None:
    request, result = COMMAND_MODELS[command_type]
    command = _envelope_of(f"{_camel(command_type)}Command", command_type, request)

    async def handle(body: command) -> None:  # type: ignore[valid-type]
        """Never run: FastStream documents the message from this signature."""

    reply = broker.publisher(
        _REPLY_TOPIC,
        title=f"{_REPLY_TOPIC}:{command_type}",
        description=f"Reply to `{command_type}`, sent to the command's `reply_to` header.",
        schema=_reply_of(command_type, result),
    )
    sender = {True: "Intake's services", False: "the gateway, for a user"}
    for topic, carried in sorted(topics.TOPIC_COMMANDS.items()):
        if command_type not in carried:
            continue
        by_service = topic in topics.SERVICE_COMMAND_TOPICS
        broker.subscriber(
            topic,
            title=f"{topic}:{command_type}",
            description=(
                f"`{command_type}` commands sent by {sender[by_service]}"
                " (request/reply: `reply_to`, `correlation_id`)."
            ),
        )(reply(handle))


def asyncapi() -> dict[str, Any]:
    broker = KafkaBroker("kafka:9092", description="Kafka of the Intake deployment")
    for event_type in EventType:
        _declare_event(broker, event_type)
    for command_type in CommandType:
        _declare_command(broker, command_type)
    spec = AsyncAPI(
        broker,
        title="Intake messaging",
        version="1.0.0",
        description="Every Kafka topic of Intake: lifecycle events, commands and their replies.",
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def write(docs_dir: Path) -> list[Path]:
    """Regenerate both artefacts; stale schema files of removed messages are deleted."""
    schemas_dir = docs_dir / SCHEMAS_DIR
    written = export.write(schemas_dir)
    for stale in set(schemas_dir.rglob("*.json")) - set(written):
        stale.unlink()
    target = docs_dir / ASYNCAPI_FILE
    target.write_text(json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n")
    return [*written, target]


def main() -> None:
    docs_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    for path in write(docs_dir):
        sys.stdout.write(f"{path}\n")
