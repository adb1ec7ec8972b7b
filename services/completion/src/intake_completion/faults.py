"""Test-only crashes at named points of the saga (INTAKE_COMPLETION_FAULT); never in production."""

import logging
from collections.abc import Callable

from intake_completion.settings import CompletionSettings

log = logging.getLogger(__name__)


def inject(settings: CompletionSettings, point: str, crash: Callable[[int], object]) -> None:
    """End the process at `point` when the settings name it: no clean-up, as a kill -9 would."""
    if settings.fault == point:
        log.critical("fault injected: process exits", extra={"fault": point})
        crash(1)
