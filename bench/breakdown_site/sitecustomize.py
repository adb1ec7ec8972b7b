"""Timestamps for bench/complete_breakdown.py, in the service processes it starts.

Python imports `sitecustomize` at start-up from PYTHONPATH; the breakdown bench puts this
folder there and names a directory in INTAKE_BREAKDOWN_DIR. Each process then appends one
JSON line per timed call, `[name, session, start_ns, end_ns]`, to a file of its own: the
Postgres statements (asyncpg's Connection), the Kafka requests and replies, the command
handlers, the S3 calls, the promotion, the outbox relay and the event consumers' batches.
CLOCK_MONOTONIC is the machine's, so the processes' stamps line up. Nothing in the product
imports this; without the variable it does nothing.
"""

import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Namer = Callable[[tuple[Any, ...]], tuple[str, str | None]]


def _install(folder: str) -> None:
    # Imported here: a process without the variable must not pay for them.
    import asyncpg

    from intake_runtime import logs
    from intake_runtime.messaging import dispatch, events, requests
    from intake_runtime.postgres import outbox
    from intake_runtime.storage import s3

    process = Path(sys.argv[0]).name
    out = Path(folder, f"{process}-{os.getpid()}.jsonl").open("a", buffering=1)  # noqa: SIM115

    def session() -> str | None:
        return logs.session_in_scope.get()

    def timed(owner: Any, attribute: str, namer: Namer) -> None:
        original = getattr(owner, attribute, None)
        if original is None:  # another checkout's code (--checkout): stamped where it exists
            return

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic_ns()
            try:
                return await original(*args, **kwargs)
            finally:
                name, key = namer(args)
                out.write(f'["{name}", "{key or session()}", {started}, {time.monotonic_ns()}]\n')

        setattr(owner, attribute, wrapper)

    def statement(args: tuple[Any, ...]) -> tuple[str, str | None]:
        text = " ".join(str(args[1]).split())[:48].replace('"', "'")
        return f"pg {text}", None

    for method in ("execute", "fetch", "fetchrow", "fetchval"):
        timed(asyncpg.connection.Connection, method, statement)
    timed(
        requests.RequestReplyClient,
        "request",
        lambda a: (f"request {a[2]}", str(getattr(a[3], "upload_session_id", "")) or None),
    )
    timed(dispatch.CommandDispatcher, "_handle", lambda a: _handled(a[1]))
    timed(dispatch, "_send_reply", lambda _: ("reply sent", None))
    timed(s3.ObjectStore, "head", lambda _: ("s3 HEAD", None))
    timed(s3.ObjectStore, "delete", lambda _: ("s3 DELETE", None))
    timed(outbox.OutboxRelay, "relay_once", lambda _: (f"relay {process}", "-"))
    timed(events, "_handle_isolating", lambda a: (f"events {process} x{len(a[1])}", "-"))
    if process == "intake-completion":
        from intake_completion import promotion, storage

        timed(storage.S3CompletionStorage, "copy_to_permanent", lambda _: ("s3 COPY", None))
        # The background steps under their lease: `_steps` since the handover, `promote` before.
        timed(promotion.Promoter, "_steps", lambda a: ("promotion", str(a[1].upload_session_id)))
        if not hasattr(promotion.Promoter, "_steps"):
            timed(promotion.Promoter, "promote", lambda a: ("promotion", str(a[1])))


def _handled(envelope: Any) -> tuple[str, str | None]:
    return f"handle {envelope.type}", str(envelope.payload.get("upload_session_id") or "") or None


if os.environ.get("INTAKE_BREAKDOWN_DIR"):
    _install(os.environ["INTAKE_BREAKDOWN_DIR"])
