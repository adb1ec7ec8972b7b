"""Dead letters: what cannot be decoded or keeps failing is parked with its error, counted,
listed and replayed; the partition behind it moves on."""

import asyncio
import json
import subprocess
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from intake_contracts import topics
from intake_contracts.envelope import Envelope
from intake_runtime.messaging import names
from tests.conftest import System
from tests.support import stack
from tests.support.metrics import metric
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

INTAKE_OPS = str(stack.ROOT / ".venv" / "bin" / "intake-ops")


async def _send(env: dict[str, str], topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(**stack.kafka_access(env).client_options())
    await producer.start()
    try:
        await producer.send_and_wait(names.topic(topic), value, key=key)
    finally:
        await producer.stop()


async def _letters_with_key(source: str, key: str) -> list[dict[str, Any]]:
    listed = await _intake_ops("list", "--topic", source, "--limit", "100000")
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    return [letter for letter in letters if letter["key"] == key]


async def _intake_ops(*args: str) -> subprocess.CompletedProcess[str]:
    """The dead-letter tools as operators run them: with the `ops` principal."""
    done = await _intake_ops_as("ops", *args)
    assert done.returncode == 0, done.stderr
    return done


async def _intake_ops_as(principal: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = stack.stack_principals.stack_env(principal=principal)
    kafka = {name: value for name, value in env.items() if name.startswith("KAFKA_")}
    return await asyncio.to_thread(
        subprocess.run,
        [INTAKE_OPS, "dlq", *args],
        env={
            **kafka,
            "INTAKE_ENV": "local",
            "INTAKE_NAMESPACE": names.namespace(),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _dead_letter_count(url: str, group: str, topic: str) -> float:
    return await metric(url, "intake_dead_letters_total", group=group, topic=topic)


async def test_an_undecodable_command_is_parked_counted_and_the_service_goes_on(
    system: System, api: httpx.AsyncClient
) -> None:
    metrics_url = system.processes["initiation"].url("/metrics")
    group = names.group(topics.CONSUMER_GROUPS["initiation"])
    source = names.topic(topics.INITIATION_COMMANDS)
    before = await _dead_letter_count(metrics_url, group, source)
    key = f"garbage-{uuid.uuid4().hex}"

    await _send(system.env, topics.INITIATION_COMMANDS, key.encode(), b"\x00not json at all")

    [letter] = await eventually(
        lambda: _letters_with_key(topics.INITIATION_COMMANDS, key), timeout_s=30
    )
    assert letter["error"].startswith("undecodable")
    assert letter["group"] == group
    assert letter["source_topic"] == source
    assert letter["value"].endswith("not json at all")
    after = await _dead_letter_count(metrics_url, group, source)
    assert after == before + 1
    # The partition moved on: the service still answers.
    async with httpx.AsyncClient(timeout=10) as operator:
        ready = await operator.get(system.processes["gateway"].url("/readyz"))
    assert ready.status_code == 200


async def test_an_event_that_keeps_failing_is_parked_alone_and_replay_sends_it_back(
    system: System,
) -> None:
    key = f"poison-{uuid.uuid4().hex}"
    # Well formed, but Postgres cannot store a NUL in jsonb: retrying never helps.
    poison = Envelope(type="x.test.poison", correlation_id=key, payload={"text": "a\u0000b"})

    await _send(system.env, topics.UPLOAD_EVENTS, key.encode(), poison.model_dump_json().encode())

    [letter] = await eventually(lambda: _letters_with_key(topics.UPLOAD_EVENTS, key), timeout_s=30)
    assert letter["group"] == names.group(topics.CONSUMER_GROUPS["audit"])
    assert "UntranslatableCharacter" in letter["error"]

    replayed = await _intake_ops("replay", "--topic", topics.UPLOAD_EVENTS)

    assert "replayed" in replayed.stderr
    assert int(replayed.stderr.split("replayed ")[1].split()[0]) >= 1
    # Back on its source topic, it fails the same way and is parked a second time.
    letters = await eventually(
        lambda: _letters_with_key(topics.UPLOAD_EVENTS, key),
        lambda found: len(found) == 2,
        timeout_s=30,
    )
    assert int(letters[1]["offset"]) > int(letters[0]["offset"])
    assert letters[1]["source_offset"] != letters[0]["source_offset"]


@pytest.mark.parametrize("principal", ["subscriber", "gateway"])
async def test_the_dead_letter_tools_refuse_another_principal_with_the_reason(
    system: System, principal: str
) -> None:
    """Refused by the broker, the tools stop and say why instead of retrying for ever."""
    del system  # the namespace's topics and ACLs
    dead_letters = names.topic(topics.dead_letter_topic(topics.UPLOAD_EVENTS))
    for args in (("list",), ("list", "--topic", topics.UPLOAD_EVENTS)):
        listed = await _intake_ops_as(principal, *args)
        assert listed.returncode == 1
        assert f"refuses '{principal}'" in listed.stderr
        assert dead_letters in listed.stderr
        assert listed.stdout == ""
    replayed = await _intake_ops_as(principal, "replay", "--topic", topics.UPLOAD_EVENTS)
    assert replayed.returncode == 1
    assert f"refuses '{principal}' {dead_letters}" in replayed.stderr
