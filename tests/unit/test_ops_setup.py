"""`intake-ops migrate` and `intake-ops provision-topics`: what the Kubernetes jobs run.

No servers: the database and Kafka calls are replaced, so these check which schema, which
migrations and which settings each command hands on, and that nothing else is needed.
"""

import importlib
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import NewTopic

from intake_contracts import topics
from intake_runtime.messaging import acls, kafka
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.ops import cli, setup
from intake_runtime.postgres import lifecycle
from intake_runtime.postgres.migrations import migration_files
from intake_runtime.settings import PostgresSettings


@pytest.mark.parametrize("service", setup.MIGRATING_SERVICES)
def test_each_service_s_migrations_are_found_where_the_service_applies_them(
    service: str,
) -> None:
    schema, directory = setup.service_migrations(service)

    assert schema == importlib.import_module(f"intake_{service}.settings").SCHEMA
    app = importlib.import_module(f"intake_{service}.app")
    assert directory == Path(str(app.__file__)).resolve().parent / "migrations"
    assert migration_files(directory), f"{service} has no migration in {directory}"


def test_only_services_with_a_schema_can_be_migrated() -> None:
    with pytest.raises(SystemExit, match="no database schema"):
        setup.service_migrations("gateway")
    with pytest.raises(SystemExit):
        cli.parse_args(["migrate", "gateway"])


def test_migrate_applies_the_service_s_schema_and_prints_what_it_applied(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, str, Path]] = []

    async def fake_migrate_only(
        settings: PostgresSettings, schema: str, migrations: Path
    ) -> list[str]:
        calls.append((str(settings.database_url), schema, migrations))
        return ["runtime:0001_inbox_outbox", "service:0001_assets"]

    monkeypatch.setattr(lifecycle, "migrate_only", fake_migrate_only)
    monkeypatch.setenv("DATABASE_URL", "postgresql://completion@db.example.invalid/intake")

    cli.main(["migrate", "completion"])

    [(url, schema, directory)] = calls
    assert url == "postgresql://completion@db.example.invalid/intake"
    assert (schema, directory) == setup.service_migrations("completion")
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["runtime:0001_inbox_outbox", "service:0001_assets"]
    assert "completion: 2 migration(s) applied" in captured.err


def test_provision_topics_waits_for_kafka_then_creates_with_the_configured_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, Any]] = []

    async def fake_wait(access: KafkaAccess) -> None:
        calls.append(("wait", access.bootstrap_servers))

    async def fake_provision(access: KafkaAccess, partitions: int, replication: int) -> None:
        calls.append(("provision", (access.bootstrap_servers, partitions, replication)))

    async def fake_grant(access: KafkaAccess, grants: list[acls.Grant]) -> None:
        calls.append(("grant", (access.username, grants == acls.grants(""))))

    monkeypatch.setattr(setup.kafka, "wait_for_kafka", fake_wait)
    monkeypatch.setattr(setup.kafka, "provision_shared_topics", fake_provision)
    monkeypatch.setattr(setup.acls, "grant", fake_grant)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example.invalid:9092")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "admin")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "secret")
    monkeypatch.setenv("INTAKE_TOPIC_PARTITIONS", "24")
    monkeypatch.setenv("INTAKE_TOPIC_REPLICATION", "3")

    cli.main(["provision-topics"])

    assert calls == [
        ("wait", "kafka.example.invalid:9092"),
        ("provision", ("kafka.example.invalid:9092", 24, 3)),
        ("grant", ("admin", True)),
    ]


def test_provision_topics_refuses_a_plaintext_kafka_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example.invalid:9092")
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL", raising=False)
    monkeypatch.delenv("INTAKE_ENV", raising=False)

    with pytest.raises(SystemExit) as stopped:
        cli.main(["provision-topics"])

    assert stopped.value.code == 2
    assert "KAFKA_SECURITY_PROTOCOL: PLAINTEXT in production" in capsys.readouterr().err


async def test_migrate_only_closes_its_pool_even_when_a_migration_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed: list[bool] = []

    class Pool:
        async def close(self) -> None:
            closed.append(True)

    async def fake_pool(settings: PostgresSettings) -> Pool:
        return Pool()

    async def failing_migrate(pool: Pool, schema: str, migrations: Path) -> list[str]:
        raise RuntimeError("syntax error in 0002")

    monkeypatch.setattr(lifecycle, "create_pool", fake_pool)
    monkeypatch.setattr(lifecycle, "migrate", failing_migrate)

    with pytest.raises(RuntimeError, match="0002"):
        await lifecycle.migrate_only(PostgresSettings(), "audit", Path("unused"))
    assert closed == [True]


async def test_topics_are_created_with_the_replication_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[NewTopic] = []

    class Admin:
        async def list_topics(self) -> list[str]:
            return [topics.INITIATION_COMMANDS]

        async def create_topics(self, new_topics: list[NewTopic]) -> None:
            created.extend(new_topics)

        async def close(self) -> None:
            pass

    async def fake_admin(access: KafkaAccess) -> Admin:
        return Admin()

    monkeypatch.setattr(kafka, "admin_client", fake_admin)

    await kafka.provision_shared_topics(KafkaAccess("kafka.example.invalid:9092"), 12, 3)

    layout = {t.name: (t.num_partitions, t.replication_factor) for t in created}
    assert topics.INITIATION_COMMANDS not in layout, "an existing topic is left alone"
    assert layout[topics.COMPLETION_COMMANDS] == (12, 3)
    assert layout[topics.dead_letter_topic(topics.UPLOAD_EVENTS)] == (1, 3)
    assert set(layout) == (set(topics.SHARED_TOPICS) | set(topics.DEAD_LETTER_TOPICS)) - {
        topics.INITIATION_COMMANDS
    }
