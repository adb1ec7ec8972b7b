"""What one job run found and did: counts, errors with context, and the residue it removed."""

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from intake_contracts.events import ResidueRemoved

log = logging.getLogger(__name__)

T = TypeVar("T")
# Enough to diagnose a run; the count in stats["errors"] stays exact beyond it.
MAX_RECORDED_ERRORS = 100


@dataclass
class RunReport:
    job: str
    stats: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    residue: list[ResidueRemoved] = field(default_factory=list)

    def count(self, name: str, amount: int = 1) -> None:
        self.stats[name] += amount

    def error(self, context: str, error: BaseException) -> None:
        """Log and keep a failure; the run goes on with the next item."""
        log.warning(
            "cleanup step failed",
            extra={
                "job": self.job,
                "context": context,
                "error": f"{type(error).__name__}: {error}",
            },
        )
        self.stats["errors"] += 1
        if len(self.errors) < MAX_RECORDED_ERRORS:
            self.errors.append(f"{context}: {type(error).__name__}: {error}"[:1000])


async def bounded(limit: int, items: Iterable[T], work: Callable[[T], Awaitable[None]]) -> None:
    """Run `work` over `items`, at most `limit` at a time; an escaping error cancels the rest."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item: T) -> None:
        async with semaphore:
            await work(item)

    async with asyncio.TaskGroup() as group:
        for item in items:
            group.create_task(one(item))
