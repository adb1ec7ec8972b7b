"""Pure rules of cleanup: the jobs, and which sessions, objects and uploads each may touch."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, TypeVar
from uuid import UUID

from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.keys import TEMP_PREFIX, asset_of_key, session_id_of_temp_key
from intake_contracts.sessions import TERMINAL_STATUSES, StatusView, UploadStatus

T = TypeVar("T")


class Job(StrEnum):
    DETECT_ABANDONED = "detect-abandoned"
    EXPIRE_SESSIONS = "expire-sessions"
    ORPHANED_TEMP_OBJECTS = "orphaned-temp-objects"
    ORPHANED_MULTIPART = "orphaned-multipart"
    RECONCILE = "reconcile"
    PRUNE_SESSIONS = "prune-sessions"
    SWEEP_REPLY_TOPICS = "sweep-reply-topics"


# Jobs over S3 objects: a temp key does not name its tenant, so no tenant scope applies.
STORAGE_JOBS: Final = frozenset({Job.ORPHANED_TEMP_OBJECTS, Job.ORPHANED_MULTIPART})
# Jobs over the session index, which a tenant scope limits.
SESSION_JOBS: Final = frozenset({Job.DETECT_ABANDONED, Job.EXPIRE_SESSIONS, Job.RECONCILE})


def tenant_scopes(job: Job, tenants: Sequence[str]) -> list[str | None]:
    """The runs a scheduled `job` makes: one per configured tenant for a session job, else
    one over every tenant (None). No tenants configured means every tenant."""
    if job in SESSION_JOBS and tenants:
        return list(tenants)
    return [None]


class RunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class IndexedSession:
    """What cleanup knows of a session, learnt from lifecycle and asset events only."""

    id: UUID
    tenant_id: str
    status: UploadStatus
    bucket: str
    temp_key: str
    multipart_upload_id: str | None
    expires_at: datetime
    last_event_at: datetime
    # A lower bound of the session's last activity: its last event, or a cutoff that
    # initiation refused to fail it under (activity itself travels in no event).
    active_since: datetime
    asset_id: UUID | None
    asset_created: bool
    # The Asset's promotion is over: it names its permanent key (asset.promoted seen), or it
    # failed integrity and never will (asset.integrity_failed): the temp object is not its bytes.
    asset_promoted: bool


def parse_job(name: str) -> Job:
    try:
        return Job(name)
    except ValueError:
        known = ", ".join(job.value for job in Job)
        raise DomainError(ErrorCode.UNKNOWN_JOB, f"unknown job {name!r}; one of {known}") from None


def cutoff(now: datetime, after_s: float) -> datetime:
    return now - timedelta(seconds=after_s)


def is_live(status: UploadStatus) -> bool:
    return status not in TERMINAL_STATUSES


def is_abandoned(session: IndexedSession, idle_before: datetime) -> bool:
    """A candidate only: initiation re-checks the real last activity under its compare-and-set."""
    return session.status == UploadStatus.UPLOADING and session.active_since < idle_before


def is_expired(session: IndexedSession, now: datetime) -> bool:
    return is_live(session.status) and session.expires_at <= now


def needs_reconcile(session: IndexedSession, completed_before: datetime) -> bool:
    """COMPLETED without a promoted Asset seen: the saga stopped between MarkCompleted and the
    Asset, or its promotion has not finished."""
    return (
        session.status == UploadStatus.COMPLETED
        and not session.asset_promoted
        and session.last_event_at <= completed_before
    )


def promoted_at_creation(object_key: str) -> bool:
    """An asset.created naming a key outside the temp prefix was recorded already promoted
    (Assets created before promotion became asynchronous)."""
    return not object_key.startswith(TEMP_PREFIX)


def residue_reason(
    key: str, created: datetime, session: IndexedSession | None, older_than: datetime
) -> str | None:
    """Why an S3 leftover under the temp contract may be removed, or None to keep it.

    Kept: keys outside `temp/uploads/{session}/original`, anything newer than the threshold,
    anything of a live session, and the temp object of a COMPLETED session whose Asset has not
    been seen promoted (the Asset may name it, and promotion still needs it).
    """
    session_id = session_id_of_temp_key(key)
    if session_id is None or created > older_than:
        return None
    if session is None:
        return "unknown_session"
    if session.id != session_id or is_live(session.status):
        return None
    if session.status == UploadStatus.COMPLETED and not session.asset_promoted:
        return None
    return f"session_{session.status.value.lower()}"


def run_status(errors: list[str]) -> RunStatus:
    return RunStatus.FAILED if errors else RunStatus.OK


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    return [items[start : start + size] for start in range(0, len(items), size)]


@dataclass(frozen=True)
class Unchanged:
    """Sessions a bulk failure left alone: still live (active after the cutoff) or terminal."""

    live: list[UUID]
    terminal: list[tuple[UUID, UploadStatus]]


def sort_unchanged(views: Sequence[StatusView]) -> Unchanged:
    return Unchanged(
        live=[v.upload_session_id for v in views if is_live(v.status)],
        terminal=[(v.upload_session_id, v.status) for v in views if not is_live(v.status)],
    )


def permanent_upload_reason(
    key: str, initiated: datetime, older_than: datetime, promoting: frozenset[str]
) -> str | None:
    """Why a multipart upload under the permanent prefix may be aborted, or None to keep it.

    Kept: keys outside `tenants/{tenant}/assets/{asset}/original` (not ours to judge), uploads
    newer than the threshold (a copy may be running), and keys completion says a saga still
    owns (its promotion aborts stale uploads there itself before it copies).
    """
    if asset_of_key(key) is None or initiated > older_than or key in promoting:
        return None
    return "no_promotion"


def is_reply_topic(physical: str, reply_prefix: str) -> bool:
    """A reply topic of this system: the prefix already carries the namespace, so another
    system's topics (another namespace, or none) never match."""
    return physical.startswith(reply_prefix) and len(physical) > len(reply_prefix)


def reply_topic_sweepable(
    *, live: bool, unclaimed_since: datetime | None, now: datetime, grace_s: float
) -> bool:
    """A reply topic goes once no consumer has held it for the grace period: a topic with a
    live member never goes, nor one first seen unclaimed less than `grace_s` ago (an instance
    that has created its topic but not yet joined)."""
    if live or unclaimed_since is None:
        return False
    return unclaimed_since <= cutoff(now, grace_s)


def by_bucket(sessions: Iterable[IndexedSession]) -> list[tuple[str, list[IndexedSession]]]:
    """Sessions grouped by their bucket (a per-tenant strategy has many), buckets in order."""
    groups: dict[str, list[IndexedSession]] = {}
    for session in sessions:
        groups.setdefault(session.bucket, []).append(session)
    return sorted(groups.items())
