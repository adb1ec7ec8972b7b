"""Background tasks of a long-lived object (a relay, a listener, a refresher)."""

import asyncio
import contextlib
from typing import Any


async def stop_task(task: "asyncio.Task[Any] | None") -> None:
    """Cancel `task` and return once it has stopped; None is nothing to stop."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
