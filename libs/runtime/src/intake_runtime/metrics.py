"""Prometheus metrics every service shares; each process serves them on its /metrics.

Defined once at import, as prometheus_client expects: a metric is a process-wide registry
entry, not a client or a connection, so this is not the import-time state the conventions
forbid. Labels take bounded values only (command types, error codes, job names).
"""

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka.message import KafkaMessage
from prometheus_client import Counter, Gauge, Histogram

# Request/reply hops are milliseconds; cleanup jobs can take minutes.
_COMMAND_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

COMMAND_DURATION = Histogram(
    "intake_command_duration_seconds",
    "Time to handle one command, from decoded envelope to reply.",
    ["service", "command"],
    buckets=_COMMAND_BUCKETS,
)
COMMAND_OUTCOMES = Counter(
    "intake_commands_total",
    "Commands handled, by outcome: ok or the error code replied.",
    ["service", "command", "outcome"],
)
REPLY_TIMEOUTS = Counter(
    "intake_reply_timeouts_total",
    "Requests whose reply did not arrive before the deadline.",
    ["command"],
)
OUTBOX_BACKLOG = Gauge(
    "intake_outbox_backlog_events", "Outbox events not yet published to Kafka.", ["schema"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "intake_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox event (0 when none).",
    ["schema"],
)
CONSUMER_LAG = Gauge(
    "intake_consumer_lag_messages",
    "Messages behind the partition's high watermark, sampled at each consumed message.",
    ["group", "topic", "partition"],
)
DEAD_LETTERS = Counter(
    "intake_dead_letters_total",
    "Messages parked in a dead-letter topic, by consumer group and source topic.",
    ["group", "topic"],
)
REFUSED_ENVELOPES = Counter(
    "intake_refused_envelopes_total",
    "Commands refused because their principal does not fit the topic they came from.",
    ["service", "topic"],
)
CLEANUP_JOB_RUNS = Counter(
    "intake_cleanup_job_runs_total", "Cleanup job runs, by final status.", ["job", "status"]
)
CLEANUP_JOB_DURATION = Histogram(
    "intake_cleanup_job_duration_seconds",
    "Duration of one cleanup job run.",
    ["job"],
    buckets=_JOB_BUCKETS,
)
CLEANUP_JOB_ITEMS = Counter(
    "intake_cleanup_job_items_total",
    "What cleanup runs did, by job and stat (e.g. sessions_failed, objects_deleted).",
    ["job", "stat"],
)


@contextmanager
def command_timer(service: str, command: str) -> Iterator[None]:
    """Observe the handling time of one command, whatever its outcome."""
    started = time.perf_counter()
    try:
        yield
    finally:
        COMMAND_DURATION.labels(service, command).observe(time.perf_counter() - started)


def observe_command_outcome(service: str, command: str, outcome: str) -> None:
    COMMAND_OUTCOMES.labels(service, command, outcome).inc()


def observe_reply_timeout(command: str) -> None:
    REPLY_TIMEOUTS.labels(command).inc()


def observe_outbox(schema: str, backlog: int, oldest_age_s: float) -> None:
    OUTBOX_BACKLOG.labels(schema).set(backlog)
    OUTBOX_OLDEST_AGE.labels(schema).set(oldest_age_s)


def observe_consumer_lag(group: str, message: KafkaMessage) -> None:
    """Best effort: lag as the consumer last saw the high watermark; no broker round trip.

    A consumer that stops consuming stops updating this gauge, so alert on its age together
    with the outbox age, not on this value alone.
    """
    highwater = getattr(message.consumer, "highwater", None)
    if highwater is None:  # a test or fake consumer knows no watermark
        return
    raw = message.raw_message
    records: tuple[ConsumerRecord[object, object], ...] = raw if isinstance(raw, tuple) else (raw,)
    for record in records:
        mark = highwater(TopicPartition(record.topic, record.partition))
        if mark is not None:
            lag = max(int(mark) - record.offset - 1, 0)
            CONSUMER_LAG.labels(group, record.topic, str(record.partition)).set(lag)


def observe_job(job: str, status: str, duration_s: float, stats: Mapping[str, int]) -> None:
    """What the cleanup service reports after each job run."""
    CLEANUP_JOB_RUNS.labels(job, status).inc()
    CLEANUP_JOB_DURATION.labels(job).observe(duration_s)
    for stat, count in stats.items():
        if count > 0:
            CLEANUP_JOB_ITEMS.labels(job, stat).inc(count)


def observe_refused_envelope(service: str, topic: str) -> None:
    REFUSED_ENVELOPES.labels(service, topic).inc()


def observe_dead_letter(group: str, topic: str) -> None:
    DEAD_LETTERS.labels(group, topic).inc()
