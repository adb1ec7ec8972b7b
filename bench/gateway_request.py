"""The gateway's own CPU per request, in process: its Litestar app (routing, the bearer JWT,
the body, dependencies, the Prometheus middleware, the response) driven through ASGI directly,
the services behind a client that answers at once. No uvicorn, no HTTP client, no Kafka: what
is left is the gateway's work per request, the part of a part URL that a change of the app
moves.

    python -m bench.gateway_request --requests 5000            # CPU per request
    python -m bench.gateway_request --requests 5000 --profile  # and where it goes (cProfile)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import uvloop
from pydantic import BaseModel
from tests.support import tokens

from bench.common import write
from intake_contracts.commands import CommandSpec
from intake_contracts.envelope import Principal
from intake_contracts.sessions import PartUrl, PartUrls
from intake_gateway.app import create_app
from intake_gateway.settings import GatewaySettings

SESSION = uuid.uuid4()


class Answering:
    """The services, answering every part URL at once."""

    def __init__(self) -> None:
        url = f"http://127.0.0.1:8333/intake-uploads/temp/{SESSION}?partNumber=1&X-Amz-Signature=ab"
        self._parts = PartUrls(
            parts=[PartUrl(part_number=1, url=url, expires_at=datetime.now(UTC))]
        )

    async def call(
        self,
        command: CommandSpec[Any, Any],  # noqa: ARG002
        payload: BaseModel,  # noqa: ARG002
        principal: Principal,  # noqa: ARG002
        *,
        key: uuid.UUID | None = None,  # noqa: ARG002
    ) -> Any:
        return self._parts


def request(token: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"part_number": 1}).encode()
    path = f"/app/uploads/{SESSION}/multipart-part-url"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"*/*"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    return scope, body


async def drive(app: Any, scope: dict[str, Any], body: bytes) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def measure(requests: int, profile: bool) -> dict[str, Any]:
    settings = GatewaySettings(INTAKE_ENV="local", INTAKE_RATE_LIMIT_PER_S=0)
    app = create_app(settings, Answering())
    scope, body = request(tokens.mint(tokens.new_tenant(), ["bench"]))
    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await lifespan.put({"type": "lifespan.startup"})
    started_up = asyncio.Event()

    async def lifespan_send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started_up.set()

    runner = asyncio.create_task(
        app({"type": "lifespan", "state": {}}, lifespan.get, lifespan_send)
    )
    await started_up.wait()
    scope["state"] = {}
    for _ in range(500):  # warm-up: caches, the first request's lazy set-up
        status = await drive(app, scope, body)
        if status != 200:
            raise SystemExit(f"the gateway answered {status}")
    profiler = cProfile.Profile() if profile else None
    samples = []
    cpu_started = time.process_time()
    if profiler:
        profiler.enable()
    for _ in range(requests):
        started = time.perf_counter()
        await drive(app, scope, body)
        samples.append((time.perf_counter() - started) * 1000)
    if profiler:
        profiler.disable()
    cpu_ms = (time.process_time() - cpu_started) * 1000 / requests
    await lifespan.put({"type": "lifespan.shutdown"})
    await runner
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    return {
        "requests": requests,
        "cpu_ms_per_request": round(cpu_ms, 4),
        "wall_p50_ms": round(statistics.median(samples), 4),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--name", default="gateway_request")
    args = parser.parse_args()
    figures = uvloop.run(measure(args.requests, args.profile))
    if not args.profile:
        print(write(args.name, figures))
    print(figures)


if __name__ == "__main__":
    main()
