"""Jobs over sessions: abandoned detection, expiry and completion reconciliation."""

import logging
from datetime import datetime

import asyncpg

from intake_cleanup import domain, repo
from intake_cleanup.domain import IndexedSession
from intake_cleanup.peers import Peers
from intake_cleanup.report import RunReport, bounded
from intake_cleanup.settings import CleanupSettings
from intake_contracts.errors import DomainError
from intake_contracts.sessions import UploadStatus
from intake_runtime.messaging.requests import ReplyTimeoutError

log = logging.getLogger(__name__)

ABANDONED = "abandoned"
EXPIRED = "expired"


class SessionJobs:
    """Each job asks initiation or completion to act; neither trusts cleanup's index blindly."""

    def __init__(self, settings: CleanupSettings, pool: asyncpg.Pool, peers: Peers) -> None:
        self._settings = settings
        self._pool = pool
        self._peers = peers

    async def detect_abandoned(self, report: RunReport, now: datetime, tenant: str | None) -> None:
        idle_before = domain.cutoff(now, self._settings.abandoned_after_s)
        found = await repo.idle_sessions(
            self._pool, idle_before, self._settings.batch_limit, tenant
        )
        candidates = [s for s in found if domain.is_abandoned(s, idle_before)]
        report.count("candidates", len(candidates))

        async def fail(session: IndexedSession) -> None:
            await self._fail(report, session, ABANDONED, idle_before=idle_before)

        await bounded(self._settings.command_concurrency, candidates, fail)

    async def expire_sessions(self, report: RunReport, now: datetime, tenant: str | None) -> None:
        found = await repo.expired_sessions(self._pool, now, self._settings.batch_limit, tenant)
        candidates = [s for s in found if domain.is_expired(s, now)]
        report.count("candidates", len(candidates))

        async def fail(session: IndexedSession) -> None:
            await self._fail(report, session, EXPIRED, expired_at=now)

        await bounded(self._settings.command_concurrency, candidates, fail)

    async def reconcile(self, report: RunReport, now: datetime, tenant: str | None) -> None:
        before = domain.cutoff(now, self._settings.reconcile_after_s)
        found = await repo.unreconciled_sessions(
            self._pool, before, self._settings.batch_limit, tenant
        )
        candidates = [s for s in found if domain.needs_reconcile(s, before)]
        report.count("candidates", len(candidates))
        await bounded(
            self._settings.command_concurrency,
            candidates,
            lambda session: self._complete(report, session),
        )

    async def _fail(
        self,
        report: RunReport,
        session: IndexedSession,
        reason: str,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> None:
        # BrokerUnavailableError escapes on purpose: with Kafka gone every session would fail
        # the same way, so the run stops and the next one retries.
        try:
            view = await self._peers.mark_failed(
                session, reason, idle_before=idle_before, expired_at=expired_at
            )
        except (DomainError, ReplyTimeoutError) as error:
            report.error(f"mark_failed {session.id} ({reason})", error)
            return
        if view.status == UploadStatus.FAILED:
            report.count("failed")
            log.info(
                "session failed", extra={"upload_session_id": str(session.id), "reason": reason}
            )
        elif domain.is_live(view.status):
            # Initiation saw activity after the cutoff: remember it, so the next run waits.
            report.count("still_active")
            if idle_before is not None:
                await repo.raise_active_since(self._pool, session.id, idle_before)
            return
        else:
            report.count("already_terminal")
        await repo.advance_status(self._pool, session.id, view.status)

    async def _complete(self, report: RunReport, session: IndexedSession) -> None:
        try:
            result = await self._peers.complete(session)
        except (DomainError, ReplyTimeoutError) as error:
            report.error(f"complete {session.id}", error)
            return
        asset = result.asset
        # The reply says where the bytes are now; promotion goes on in completion, and its
        # asset.promoted event marks the session done here.
        promoted = asset.promoted_at is not None
        await repo.record_asset(
            self._pool, session.id, asset.asset_id, session.tenant_id, promoted=promoted
        )
        report.count("completed" if promoted else "promoting")
