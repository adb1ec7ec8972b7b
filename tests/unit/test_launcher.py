"""The launcher's replica plan: which processes `make up` starts, on which ports."""

import json
from pathlib import Path

import launcher
import pytest
import s3_iam
import stack_base
import stack_principals


def test_replicas_are_counted_per_consumer_service() -> None:
    assert launcher.parse_replicas("initiation=3, completion=2") == {
        "initiation": 3,
        "completion": 2,
    }
    assert launcher.parse_replicas("") == {}


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("gateway=2", "not one of"),
        ("initiation=0", "count from 1"),
        ("initiation=13", "count from 1"),
        ("initiation=two", "count from 1"),
        ("initiation", "count from 1"),
    ],
)
def test_a_bad_replica_plan_is_refused_with_the_reason(spec: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        launcher.parse_replicas(spec)


def test_each_replica_is_its_own_process_on_its_own_port(tmp_path: Path) -> None:
    processes = launcher.build({"INTAKE_REPLICAS": "initiation=3"}, tmp_path, 8000)

    initiation = [p for p in processes.values() if p.service == "initiation"]
    assert [p.name for p in initiation] == ["initiation", "initiation-2", "initiation-3"]
    assert [p.health_port for p in initiation] == [8101, 8111, 8121]
    assert [p.env["INTAKE_METRICS_PORT"] for p in initiation] == ["8101", "8111", "8121"]
    # The gateway's API on its port, its readiness and metrics on a port of their own.
    assert processes["gateway"].api_port == 8000
    assert processes["gateway"].env["INTAKE_GATEWAY_PORT"] == "8000"
    assert processes["gateway"].health_port == 8105
    ports = [p.health_port for p in processes.values()] + [8000]
    assert len(ports) == len(set(ports))


def test_a_port_can_be_given_for_one_replica(tmp_path: Path) -> None:
    processes = launcher.build(
        {"INTAKE_REPLICAS": "audit=2"}, tmp_path, 9000, {"audit": 9101, "audit-2": 9202}
    )

    assert processes["audit"].health_port == 9101
    assert processes["audit-2"].health_port == 9202
    assert processes["audit-2"].log_path == tmp_path / "audit-2.log"


def test_the_health_ports_move_together_with_their_base(tmp_path: Path) -> None:
    assert launcher.health_ports({}) == launcher.DEFAULT_PORTS
    ports = launcher.health_ports({"INTAKE_METRICS_BASE_PORT": "48101"})

    processes = launcher.build({}, tmp_path, gateway_port=48000, ports=ports)

    assert {name: p.health_port for name, p in processes.items()} == {
        "initiation": 48101,
        "completion": 48102,
        "cleanup": 48103,
        "audit": 48104,
        "gateway": 48105,
    }
    assert processes["gateway"].api_port == 48000


def test_each_service_runs_as_its_own_principal_and_never_with_the_stacks_admin_keys(
    tmp_path: Path,
) -> None:
    config = stack_base.Config.from_env({"INTAKE_STATE_DIR": str(tmp_path)})
    config.secrets_dir.mkdir(parents=True)
    passwords = {name: f"password-of-{name}" for name in (stack_base.ADMIN, *stack_base.PRINCIPALS)}
    (config.secrets_dir / "kafka-users.json").write_text(json.dumps(passwords))
    keys = s3_iam.service_keys(config.s3_keys)
    admin = {**stack_principals.environment(config), "INTAKE_STATE_DIR": str(tmp_path)}

    processes = launcher.build(admin, tmp_path, 8000, provision_kafka=False)

    for service, process in processes.items():
        assert process.env["KAFKA_SASL_USERNAME"] == service
        assert process.env["KAFKA_SASL_PASSWORD"] == passwords[service]
    for service in s3_iam.SERVICES:
        env = processes[service].env
        assert env["AWS_ACCESS_KEY_ID"] == keys[service]["access_key"]
        assert env["AWS_SECRET_ACCESS_KEY"] == keys[service]["secret_key"]
    for service in s3_iam.NO_S3:
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(processes[service].env)


def test_s3_keys_a_caller_chose_are_left_as_given(tmp_path: Path) -> None:
    chosen = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "chosen"}

    processes = launcher.build(chosen, tmp_path, 8000)

    assert {p.env["AWS_ACCESS_KEY_ID"] for p in processes.values()} == {"AKIAEXAMPLE"}
