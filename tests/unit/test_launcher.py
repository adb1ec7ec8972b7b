"""The launcher's replica plan: which processes `make up` starts, on which ports."""

from pathlib import Path

import launcher
import pytest


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
