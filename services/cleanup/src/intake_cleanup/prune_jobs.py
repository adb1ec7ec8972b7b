"""Prune jobs: prune finished sessions everywhere, and sweep dead instances' reply topics.

Each service owns its schema, so initiation and completion prune their own rows on command;
cleanup prunes its index, seen events and job runs itself. Every batch is its own short
transaction, repeated until one comes back short.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from intake_cleanup import domain
from intake_cleanup.ports import OutboundCommands, PruneRepository, ReplyTopics
from intake_cleanup.report import RunReport
from intake_cleanup.settings import CleanupSettings
from intake_contracts.commands import PruneResult
from intake_contracts.errors import CodedError
from intake_runtime.messaging.requests import ReplyTimeoutError

log = logging.getLogger(__name__)

Batch = Callable[[datetime, int], Awaitable[PruneResult]]
LocalBatch = Callable[[datetime, int], Awaitable[int]]


class PruneJobs:
    def __init__(
        self,
        settings: CleanupSettings,
        rows: PruneRepository,
        outbound: OutboundCommands,
        reply_topics: ReplyTopics,
    ) -> None:
        self._settings = settings
        self._rows = rows
        self._outbound = outbound
        self._topics = reply_topics

    async def prune_sessions(self, report: RunReport, now: datetime, _tenant: str | None) -> None:
        """Initiation first, then completion, then cleanup's own index: while a session is
        still in the index, reconcile and the storage jobs see it as they always did."""
        older_than = domain.cutoff(now, self._settings.prune_after_s)
        for name, batch in (
            ("initiation", self._outbound.prune_sessions),
            ("completion", self._outbound.prune_completions),
        ):
            try:
                await self._prune_in(report, name, batch, older_than)
            except (CodedError, ReplyTimeoutError) as error:
                report.error(f"prune {name}", error)
        for name, local in (
            ("index", self._rows.prune_index),
            ("seen_events", self._rows.prune_seen_events),
            ("job_runs", self._rows.prune_job_runs),
        ):
            await self._prune_local(report, name, local, older_than)

    async def _prune_in(
        self, report: RunReport, name: str, batch: Batch, older_than: datetime
    ) -> None:
        limit = self._settings.batch_limit
        while True:
            result = await batch(older_than, limit)
            report.count(f"{name}_removed", result.removed)
            report.count(f"{name}_inbox_removed", result.inbox_removed)
            report.count(f"{name}_outbox_removed", result.outbox_removed)
            if result.exhausted(limit):
                return

    async def _prune_local(
        self, report: RunReport, name: str, batch: LocalBatch, older_than: datetime
    ) -> None:
        limit = self._settings.batch_limit
        while True:
            removed = await batch(older_than, limit)
            report.count(f"{name}_removed", removed)
            if removed < limit:
                return

    async def sweep_reply_topics(self, report: RunReport, now: datetime) -> None:
        """Delete the reply topics of this namespace that no consumer has held for the grace
        period. A live instance's consumer is a member of its topic's presence group, so its
        topic is never a candidate."""
        liveness = await self._topics.liveness()
        prefix = self._topics.prefix()
        mine = {t: live for t, live in liveness.items() if domain.is_reply_topic(t, prefix)}
        unclaimed = sorted(t for t, live in mine.items() if not live)
        report.count("listed", len(mine))
        report.count("unclaimed", len(unclaimed))
        since = await self._rows.unclaimed_since(unclaimed, now)
        doomed = [
            topic
            for topic in unclaimed
            if domain.reply_topic_sweepable(
                live=False,
                unclaimed_since=since.get(topic),
                now=now,
                grace_s=self._settings.reply_topic_grace_s,
            )
        ]
        if not doomed:
            return
        # Looked at again just before deleting: an instance that joined meanwhile keeps its topic.
        again = await self._topics.liveness()
        doomed = [topic for topic in doomed if not again.get(topic, False)]
        outcome = await self._topics.delete(doomed) if doomed else {}
        deleted = [topic for topic, error in outcome.items() if error is None]
        for topic, error in outcome.items():
            if error is not None:
                report.error(f"delete reply topic {topic}", RuntimeError(error))
        await self._rows.forget(deleted)
        report.count("deleted", len(deleted))
        log.info("reply topics swept", extra={"deleted": deleted})
