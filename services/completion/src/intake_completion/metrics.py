"""Completion's own metric; command durations and error outcomes come from the runtime."""

from typing import Final

from prometheus_client import Counter

# The runtime counts a successful command as "ok"; this tells new Assets from answered ones.
COMPLETIONS: Final = Counter(
    "intake_completion_results_total",
    "Successful completions: created (a new Asset) or existing (an Asset answered again).",
    ["result"],
)


def observe_result(created: bool) -> None:
    COMPLETIONS.labels("created" if created else "existing").inc()
