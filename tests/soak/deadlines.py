"""Every wait of the soak on something outside its process has a deadline, and the error of a
missed one says what was awaited: a run that would hang fails instead, naming the wait."""

import asyncio
import contextlib
from collections.abc import AsyncIterator


class DeadlineError(TimeoutError):
    """A process, a port, a store or a client did not answer in time; the message names it."""


@contextlib.asynccontextmanager
async def deadline(what: str, seconds: float) -> AsyncIterator[None]:
    """Cancel the block after `seconds`, raising DeadlineError("`what` ...").

    Only this deadline's own expiry is renamed: a TimeoutError from a deadline nested inside
    (which names its own wait) passes through unchanged.
    """
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            yield
    except TimeoutError as error:
        if not scope.expired() or isinstance(error, DeadlineError):
            raise
        raise DeadlineError(f"{what}: not done within {seconds:.0f}s") from error
