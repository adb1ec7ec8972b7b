"""The completion use case: the saga that turns a finished upload into exactly one Asset."""

import logging
import os
from collections.abc import Callable
from typing import Protocol
from uuid import UUID

import asyncpg

from intake_completion import domain, metrics, repo
from intake_completion.repo import Asset
from intake_completion.settings import CRASH_AFTER_MARK_COMPLETED, CompletionSettings
from intake_completion.storage import CompletionStorage
from intake_contracts import keys
from intake_contracts.commands import AssetView, CompleteUpload, CompletionResult
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError
from intake_contracts.events import AssetCreated, EventType
from intake_contracts.sessions import SessionRecord, UploadStatus
from intake_runtime.messaging.dispatch import Command
from intake_runtime.postgres.outbox import Outbox

log = logging.getLogger(__name__)

SERVICE = "completion"


class Sessions(Protocol):
    """Initiation as completion needs it (see sessions.InitiationSessions)."""

    async def begin_completion(self, session_id: UUID, principal: Principal) -> SessionRecord: ...

    async def mark_completed(
        self, session_id: UUID, asset_id: UUID, principal: Principal
    ) -> SessionRecord: ...


class CompletionService:
    def __init__(
        self,
        settings: CompletionSettings,
        storage: CompletionStorage,
        sessions: Sessions,
        outbox: Outbox,
        crash: Callable[[int], object] = os._exit,
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._sessions = sessions
        self._outbox = outbox
        self._crash = crash

    async def complete(
        self, command: Command[CompleteUpload], tx: asyncpg.Connection
    ) -> CompletionResult:
        result = await self._complete(command, tx)
        metrics.observe_result(result.created)
        return result

    async def _complete(
        self, command: Command[CompleteUpload], tx: asyncpg.Connection
    ) -> CompletionResult:
        session_id = command.payload.upload_session_id
        domain.check_title(command.payload.title)
        # Concurrent completions of one session wait here; the later ones find the Asset.
        await repo.lock_session(tx, session_id, self._settings.session_lock_timeout_s)
        existing = await repo.by_session(tx, session_id, command.tenant_id)
        if existing is not None:
            domain.require_brand(existing.brand_id, command.principal)
            return _result(existing, created=False)
        session = await self._sessions.begin_completion(session_id, command.principal)
        if session.status != UploadStatus.COMPLETED:
            session = await self._finish_upload(session, command)
        # From here the session is COMPLETED: a crash before the insert is repaired by a retry,
        # which begins again here.
        return await self._create_asset(tx, session, command)

    async def _finish_upload(
        self, session: SessionRecord, command: Command[CompleteUpload]
    ) -> SessionRecord:
        """Finalize and verify the bytes, then have initiation record COMPLETED."""
        try:
            await self._storage.finalize(session, command.payload.parts)
            if session.checksum_sha256:
                await self._storage.verify_checksum(session, session.checksum_sha256)
        except DomainError:
            # A concurrent cancel removes the bytes: its refusal is the truer answer.
            await self._sessions.begin_completion(session.upload_session_id, command.principal)
            raise
        completed = await self._sessions.mark_completed(
            session.upload_session_id,
            keys.asset_id_for(session.upload_session_id),
            domain.acting_as(command.principal, SERVICE),
        )
        self._inject_fault(CRASH_AFTER_MARK_COMPLETED)
        return completed

    async def _create_asset(
        self, tx: asyncpg.Connection, session: SessionRecord, command: Command[CompleteUpload]
    ) -> CompletionResult:
        asset_id = session.asset_id or keys.asset_id_for(session.upload_session_id)
        object_key = await self._storage.promote(session, asset_id)
        draft = _draft(session, asset_id, object_key, command.payload.title)
        asset = await repo.insert(tx, draft)
        if asset is None:  # only possible without the session lock; answer the stored one
            stored = await repo.by_session(tx, session.upload_session_id, session.tenant_id)
            if stored is None:
                raise RuntimeError(f"asset of {session.upload_session_id} vanished")
            return _result(stored, created=False)
        await self._outbox.add(
            tx,
            EventType.ASSET_CREATED,
            _event(asset),
            key=str(asset.upload_session_id),
            tenant_id=asset.tenant_id,
            correlation_id=command.envelope.correlation_id,
            principal=command.envelope.principal,
        )
        log.info("asset created", extra={"asset_id": str(asset.asset_id)})
        return _result(asset, created=True)

    def _inject_fault(self, point: str) -> None:
        """Test-only crash at a named point of the saga (INTAKE_COMPLETION_FAULT)."""
        if self._settings.fault == point:
            log.critical("fault injected: process exits", extra={"fault": point})
            self._crash(1)


def _draft(session: SessionRecord, asset_id: UUID, object_key: str, title: str | None) -> Asset:
    return Asset(
        asset_id=asset_id,
        upload_session_id=session.upload_session_id,
        tenant_id=session.tenant_id,
        brand_id=session.brand_id,
        user_id=session.user_id,
        title=domain.title_for(title, session.file_name),
        file_name=session.file_name,
        mime_type=session.mime_type,
        size_bytes=session.size_bytes,
        bucket=session.bucket,
        object_key=object_key,
        checksum_sha256=session.checksum_sha256,
        created_at=None,
    )


def _view(asset: Asset) -> AssetView:
    if asset.created_at is None:
        raise ValueError("an asset is shown only once it is stored")
    return AssetView(
        asset_id=asset.asset_id,
        upload_session_id=asset.upload_session_id,
        tenant_id=asset.tenant_id,
        brand_id=asset.brand_id,
        title=asset.title,
        file_name=asset.file_name,
        mime_type=asset.mime_type,
        size_bytes=asset.size_bytes,
        bucket=asset.bucket,
        object_key=asset.object_key,
        checksum_sha256=asset.checksum_sha256,
        created_at=asset.created_at,
    )


def _result(asset: Asset, *, created: bool) -> CompletionResult:
    return CompletionResult(
        asset=_view(asset), upload_session_id=asset.upload_session_id, created=created
    )


def _event(asset: Asset) -> AssetCreated:
    view = _view(asset)
    return AssetCreated(**view.model_dump(exclude={"created_at"}))
