"""Prometheus: HTTP and command histograms count exactly the requests made through the gateway."""

import uuid

import httpx
import pytest

from tests.conftest import Caller, System
from tests.support.api import initiate
from tests.support.metrics import samples as _samples
from tests.support.metrics import value as _value

pytestmark = pytest.mark.e2e

REQUESTS = 5


async def test_histograms_count_the_requests_made(
    system: System, api: httpx.AsyncClient, caller: Caller
) -> None:
    gateway_metrics = system.processes["gateway"].url("/metrics")
    initiation_metrics = system.processes["initiation"].url("/metrics")
    http_before = await _samples(gateway_metrics)
    commands_before = await _samples(initiation_metrics)

    for _ in range(REQUESTS):
        name = f"m-{uuid.uuid4().hex[:6]}.txt"
        await initiate(api, caller, 10, file_name=name, mime_type="text/plain")

    http_after = await _samples(gateway_metrics)
    commands_after = await _samples(initiation_metrics)

    def http_delta(name: str) -> float:
        labels = {"method": "POST", "path": "/app/uploads/initiate", "status_code": "201"}
        return _value(http_after, name, **labels) - _value(http_before, name, **labels)

    def command_delta(name: str, **extra: str) -> float:
        labels = {"service": "initiation", "command": "initiation.initiate", **extra}
        return _value(commands_after, name, **labels) - _value(commands_before, name, **labels)

    assert http_delta("intake_gateway_request_duration_seconds_count") == REQUESTS
    assert http_delta("intake_gateway_requests_total") == REQUESTS
    assert command_delta("intake_command_duration_seconds_count") == REQUESTS
    assert command_delta("intake_commands_total", outcome="ok") == REQUESTS


async def test_the_gateway_serves_metrics_and_readiness_on_its_own_port_only(
    system: System, api: httpx.AsyncClient
) -> None:
    for path in ("/metrics", "/readyz"):
        public = await api.get(path)
        assert (public.status_code, public.json()["code"]) == (404, "route_not_found"), path
    async with httpx.AsyncClient(timeout=10) as operator:
        metrics = await operator.get(system.processes["gateway"].url("/metrics"))
        ready = await operator.get(system.processes["gateway"].url("/readyz"))
    assert "intake_gateway_requests_total" in metrics.text
    assert ready.json() == {"status": "ready"}
    assert (await api.get("/healthz")).json() == {"status": "ok"}  # liveness stays public


async def test_every_service_exposes_the_shared_metrics(system: System) -> None:
    for name, process in system.processes.items():
        if name == "gateway":
            continue
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(process.url("/metrics"))
        assert answer.status_code == 200, name
        assert "intake_command_duration_seconds" in answer.text, name
        assert "intake_reply_timeouts_total" in answer.text, name
