"""The soak's books: a snapshot of every store after the system settled, and the pure checks
that say whether anything was lost, doubled or left behind.

`check` is pure (a Snapshot in, one Verdict per invariant out), so a unit test can feed it a
violating snapshot; `snapshot.py` reads the real stores into one.
"""

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from uuid import UUID

from intake_contracts import keys

LIVE = ("INITIATING", "UPLOADING")
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
STATUSES = frozenset(LIVE + TERMINAL)
# Lifecycle event type of each status, and the statuses each may follow (initiation's
# state machine, restated here so that the checker does not trust the code it checks).
STATUS_EVENT = {
    "INITIATING": "upload.initiated",
    "UPLOADING": "upload.uploading",
    "COMPLETED": "upload.completed",
    "FAILED": "upload.failed",
    "CANCELLED": "upload.cancelled",
}
EVENT_STATUS = {event: status for status, event in STATUS_EVENT.items()}
FOLLOWS = {
    "INITIATING": frozenset({"UPLOADING", "FAILED", "CANCELLED"}),
    "UPLOADING": frozenset({"COMPLETED", "FAILED", "CANCELLED"}),
}
ASSET_EVENTS = ("asset.created", "asset.promoted")
RETRYABLE_5XX = frozenset({503, 504})


@dataclass(frozen=True)
class Session:
    """initiation.upload_sessions, as far as the books need it."""

    id: UUID
    tenant_id: str
    status: str
    size_bytes: int
    checksum_sha256: str | None
    asset_id: UUID | None
    bucket: str
    temp_key: str


@dataclass(frozen=True)
class Asset:
    asset_id: UUID
    session_id: UUID
    tenant_id: str
    bucket: str
    object_key: str
    size_bytes: int
    checksum_sha256: str | None
    promoted: bool


@dataclass(frozen=True)
class AuditEvent:
    session_id: UUID
    type: str
    seq: int


@dataclass(frozen=True)
class StoredObject:
    size: int
    # Only read for objects whose session declared a checksum.
    sha256: str | None = None


@dataclass(frozen=True)
class Answer:
    """One HTTP answer a soak client received from the gateway."""

    operation: str
    status: int
    retry_after: bool


@dataclass(frozen=True)
class Claim:
    """What a client was told succeeded: `completed` (with the asset), `cancelled`, `initiated`."""

    session_id: UUID
    outcome: str
    asset_id: UUID | None = None


@dataclass
class Snapshot:
    sessions: dict[UUID, Session] = field(default_factory=dict)
    assets: list[Asset] = field(default_factory=list)
    # completion.completions: session -> saga step.
    completion_steps: dict[UUID, str] = field(default_factory=dict)
    # cleanup.session_index: session -> status.
    index: dict[UUID, str] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    # (bucket, key) of every multipart upload still open under the temp prefix.
    multipart_uploads: list[tuple[str, str]] = field(default_factory=list)
    unpublished_outbox: dict[str, int] = field(default_factory=dict)
    unanswered_inbox: dict[str, int] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)


@dataclass
class Verdict:
    name: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)

    def expect(self, ok: bool, message: str) -> None:
        self.checked += 1
        if not ok:
            self.violations.append(message)

    def fail(self, message: str) -> None:
        self.checked += 1
        self.violations.append(message)

    def line(self) -> str:
        state = "ok" if not self.violations else f"VIOLATED x{len(self.violations)}"
        shown = "; ".join(self.violations[:5])
        return f"{self.name:<28} {state:<14} checked={self.checked}" + (
            f"  e.g. {shown}" if shown else ""
        )


def check(snapshot: Snapshot) -> list[Verdict]:
    """One verdict per invariant, in a fixed order."""
    checks: list[Callable[[Snapshot], Verdict]] = [
        one_state_everywhere,
        one_asset_per_completed,
        audit_events,
        outboxes_and_inboxes,
        no_residue,
        client_answers,
        client_successes_kept,
    ]
    return [run(snapshot) for run in checks]


def one_state_everywhere(snapshot: Snapshot) -> Verdict:
    """Initiation, completion, the cleanup index and the events audit recorded agree on each
    session."""
    verdict = Verdict("one state everywhere")
    last_audited = _last_audited_status(snapshot.audit)
    for session in snapshot.sessions.values():
        sid, status = session.id, session.status
        verdict.expect(status in STATUSES, f"{sid} has unknown status {status}")
        indexed = snapshot.index.get(sid)
        verdict.expect(indexed == status, f"{sid} is {status}, cleanup index says {indexed}")
        audited = last_audited.get(sid)
        verdict.expect(audited == status, f"{sid} is {status}, audit says {audited}")
        step = snapshot.completion_steps.get(sid)
        if status == "COMPLETED":
            verdict.expect(step == "done", f"{sid} COMPLETED, completion saga at {step}")
        else:
            # A completion that lost to a cancel (or a failure) never got past finalizing.
            verdict.expect(step in {None, "finalizing"}, f"{sid} {status}, saga at {step}")
    for sid in snapshot.index.keys() - snapshot.sessions.keys():
        verdict.fail(f"{sid} indexed by cleanup but unknown to initiation")
    return verdict


def one_asset_per_completed(snapshot: Snapshot) -> Verdict:
    """Exactly one promoted asset per COMPLETED session, with its bytes; none for the others."""
    verdict = Verdict("one asset per completed")
    by_session: dict[UUID, list[Asset]] = defaultdict(list)
    for asset in snapshot.assets:
        by_session[asset.session_id].append(asset)
    for session in snapshot.sessions.values():
        assets = by_session.get(session.id, [])
        if session.status != "COMPLETED":
            verdict.expect(not assets, f"{session.id} is {session.status} but has an asset")
            continue
        verdict.expect(len(assets) == 1, f"{session.id} has {len(assets)} assets")
        for asset in assets:
            _check_asset(verdict, snapshot, session, asset)
    for sid in by_session.keys() - snapshot.sessions.keys():
        verdict.fail(f"asset for unknown session {sid}")
    return verdict


def _check_asset(verdict: Verdict, snapshot: Snapshot, session: Session, asset: Asset) -> None:
    sid = session.id
    verdict.expect(asset.asset_id == session.asset_id, f"{sid}: asset id differs from session's")
    permanent = keys.asset_key(asset.tenant_id, asset.asset_id)
    verdict.expect(
        asset.promoted and asset.object_key == permanent, f"{sid}: asset not at its permanent key"
    )
    stored = snapshot.objects.get((asset.bucket, asset.object_key))
    if stored is None:
        verdict.fail(f"{sid}: no object at {asset.object_key}")
        return
    verdict.expect(
        stored.size == session.size_bytes == asset.size_bytes,
        f"{sid}: object has {stored.size} bytes, declared {session.size_bytes}",
    )
    if session.checksum_sha256 is not None:
        verdict.expect(stored.sha256 == session.checksum_sha256, f"{sid}: object checksum differs")


def audit_events(snapshot: Snapshot) -> Verdict:
    """Each session's events: every status once, in the state machine's order, asset events once."""
    verdict = Verdict("audit events complete")
    by_session: dict[UUID, list[AuditEvent]] = defaultdict(list)
    for event in sorted(snapshot.audit, key=lambda e: e.seq):
        by_session[event.session_id].append(event)
    for session in snapshot.sessions.values():
        types = [event.type for event in by_session.get(session.id, [])]
        duplicates = [name for name, count in Counter(types).items() if count > 1]
        verdict.expect(not duplicates, f"{session.id}: duplicate events {duplicates}")
        statuses = [EVENT_STATUS[name] for name in types if name in EVENT_STATUS]
        verdict.expect(
            _is_path(statuses, session.status),
            f"{session.id}: events {statuses} to {session.status}",
        )
        assets = sorted(name for name in types if name in ASSET_EVENTS)
        wanted = sorted(ASSET_EVENTS) if session.status == "COMPLETED" else []
        verdict.expect(assets == wanted, f"{session.id}: asset events {assets}")
    return verdict


def _is_path(statuses: list[str], final: str) -> bool:
    if not statuses or statuses[0] != "INITIATING" or statuses[-1] != final:
        return False
    return all(b in FOLLOWS.get(a, frozenset()) for a, b in itertools.pairwise(statuses))


def _last_audited_status(events: Iterable[AuditEvent]) -> dict[UUID, str]:
    last: dict[UUID, str] = {}
    for event in sorted(events, key=lambda e: e.seq):
        if event.type in EVENT_STATUS:
            last[event.session_id] = EVENT_STATUS[event.type]
    return last


def outboxes_and_inboxes(snapshot: Snapshot) -> Verdict:
    verdict = Verdict("outboxes and inboxes drained")
    for schema, count in sorted(snapshot.unpublished_outbox.items()):
        verdict.expect(count == 0, f"{schema}.outbox holds {count} unpublished events")
    for schema, count in sorted(snapshot.unanswered_inbox.items()):
        verdict.expect(count == 0, f"{schema}.inbox holds {count} unanswered commands")
    return verdict


def no_residue(snapshot: Snapshot) -> Verdict:
    """After a cleanup pass with zero thresholds: no temp object or open multipart upload of a
    terminal session."""
    verdict = Verdict("no residue of terminal")
    temp_objects = {key for (_, key) in snapshot.objects if key.startswith(keys.TEMP_PREFIX)}
    open_uploads = Counter(key for (_, key) in snapshot.multipart_uploads)
    for session in snapshot.sessions.values():
        if session.status not in TERMINAL:
            continue
        verdict.expect(
            session.temp_key not in temp_objects, f"{session.id} {session.status}: temp object left"
        )
        verdict.expect(
            open_uploads[session.temp_key] == 0,
            f"{session.id} {session.status}: multipart upload left open",
        )
    return verdict


def client_answers(snapshot: Snapshot) -> Verdict:
    """No 5xx but 503/504 with Retry-After: anything else is a server error a client cannot act on."""
    verdict = Verdict("client saw no bare 5xx")
    for answer in snapshot.answers:
        if answer.status < 500:
            continue
        verdict.expect(
            answer.status in RETRYABLE_5XX and answer.retry_after,
            f"{answer.operation} answered {answer.status}"
            + ("" if answer.retry_after else " without Retry-After"),
        )
    return verdict


def client_successes_kept(snapshot: Snapshot) -> Verdict:
    """Whatever a client was told succeeded is what the stores hold."""
    verdict = Verdict("client successes kept")
    assets = {asset.session_id: asset for asset in snapshot.assets}
    for claim in snapshot.claims:
        session = snapshot.sessions.get(claim.session_id)
        if session is None:
            verdict.fail(f"{claim.session_id} {claim.outcome} but unknown to initiation")
            continue
        if claim.outcome == "completed":
            asset = assets.get(claim.session_id)
            verdict.expect(
                session.status == "COMPLETED"
                and asset is not None
                and asset.asset_id == claim.asset_id,
                f"{claim.session_id} completed for the client, stores say {session.status}",
            )
        elif claim.outcome == "cancelled":
            verdict.expect(
                session.status == "CANCELLED",
                f"{claim.session_id} cancelled for the client, stores say {session.status}",
            )
        else:
            verdict.checked += 1  # initiated: the session exists
    return verdict
