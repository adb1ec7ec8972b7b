"""A minimal subscriber to Intake's upload events, as another team would write it
(docs/subscribing.md). It needs FastStream only, none of Intake's code.

    eval "$(deploy/stack.sh env subscriber)"
    python scripts/subscriber_example.py        # prints one line per upload event

It connects with the read-only `subscriber` principal (SASL/SCRAM-SHA-512 over TLS), reads
`intake.uploads.events` in a consumer group of its own (any id starting `intake-subscriber`),
and may do nothing else: the broker refuses it every other topic, and every write.
"""

import asyncio
import json
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import SASLScram512

UPLOAD_EVENTS = "intake.uploads.events"
GROUP = "intake-subscriber-example"

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def physical(name: str, env: Mapping[str, str]) -> str:
    """Topic and group names under the deployment's INTAKE_NAMESPACE, if it has one."""
    namespace = env.get("INTAKE_NAMESPACE", "")
    return f"{namespace}.{name}" if namespace else name


def subscriber(env: Mapping[str, str], on_event: Handler) -> KafkaBroker:
    """A broker whose one subscriber hands every upload event's envelope to `on_event`."""
    context = ssl.create_default_context(cafile=env.get("KAFKA_SSL_CAFILE") or None)
    security = SASLScram512(
        env["KAFKA_SASL_USERNAME"], env["KAFKA_SASL_PASSWORD"], ssl_context=context, use_ssl=True
    )
    broker = KafkaBroker(env["KAFKA_BOOTSTRAP_SERVERS"], security=security)

    @broker.subscriber(
        physical(UPLOAD_EVENTS, env),
        group_id=physical(GROUP, env),
        auto_offset_reset="earliest",  # a new group starts from the oldest event kept
    )
    async def handle(envelope: dict[str, Any]) -> None:
        # Delivery is at least once: an event may come twice, so act once per `message_id`.
        await on_event(envelope)

    del handle  # registered on the broker
    return broker


async def main() -> None:
    async def show(envelope: dict[str, Any]) -> None:
        payload = envelope["payload"]
        line = {k: payload.get(k) for k in ("upload_session_id", "status", "file_name")}
        print(envelope["type"], envelope["occurred_at"], json.dumps(line))

    broker = subscriber(os.environ, show)
    async with broker:
        await broker.start()
        await asyncio.Event().wait()  # until interrupted


if __name__ == "__main__":
    asyncio.run(main())
