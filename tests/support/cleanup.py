"""The cleanup jobs' world of in-memory ports, shared by the jobs' unit tests
(tests/unit/cleanup/test_*_jobs.py, test_permanent_uploads.py, test_index.py)."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from intake_cleanup.domain import IndexedSession
from intake_cleanup.permanent_uploads import PermanentUploads
from intake_cleanup.prune_jobs import PruneJobs
from intake_cleanup.report import RunReport
from intake_cleanup.session_jobs import SessionJobs
from intake_cleanup.settings import CleanupSettings
from intake_cleanup.storage_jobs import StorageJobs
from intake_contracts import keys
from intake_contracts.commands import AssetView, CompletionResult
from intake_contracts.sessions import UploadStatus
from tests.support.contracts.common import NOW
from tests.support.fakes.cleanup import FakeIndexDatabase, FakePrune
from tests.support.fakes.cleanup_outbound import FakeCleanupOutbound, FakeReplyTopics
from tests.support.fakes.cleanup_storage import FakeObjectStore

BUCKET = "intake-uploads"
HOUR = timedelta(hours=1)
LONG_AGO = NOW - timedelta(days=3)


@dataclass
class World:
    settings: CleanupSettings
    db: FakeIndexDatabase
    outbound: FakeCleanupOutbound
    store: FakeObjectStore
    prune_repo: FakePrune
    topics: FakeReplyTopics

    def session(
        self,
        status: UploadStatus = UploadStatus.UPLOADING,
        *,
        active_since: datetime = LONG_AGO,
        expires_at: datetime = NOW + HOUR,
        multipart: bool = False,
        tenant_id: str = "t1",
        initiation: UploadStatus | None = None,
    ) -> IndexedSession:
        """A session in the index (and, as `initiation` says, in initiation) with its bytes."""
        sid = uuid.uuid4()
        session = IndexedSession(
            id=sid,
            tenant_id=tenant_id,
            status=status,
            bucket=BUCKET,
            temp_key=keys.temp_key(sid),
            multipart_upload_id=f"up-{sid}" if multipart else None,
            expires_at=expires_at,
            last_event_at=active_since,
            active_since=active_since,
            asset_id=None,
            asset_created=False,
            asset_promoted=False,
        )
        self.db.index.add(session)
        self.outbound.know(session, initiation or status, active_at=active_since)
        self.store.put(BUCKET, session.temp_key, LONG_AGO)
        if multipart:
            self.store.open_upload(BUCKET, session.temp_key, f"up-{sid}", LONG_AGO)
        return session

    def status(self, session: IndexedSession) -> UploadStatus:
        return self.db.index.rows[session.id].session.status

    def sessions(self) -> SessionJobs:
        return SessionJobs(self.settings, self.db.index, self.outbound, self.store)

    def storage(self) -> StorageJobs:
        return StorageJobs(self.settings, self.db.index, self.store)

    def permanent(self) -> PermanentUploads:
        return PermanentUploads(self.settings, self.store, self.outbound)

    def prune_jobs(self) -> PruneJobs:
        return PruneJobs(self.settings, self.prune_repo, self.outbound, self.topics)


def new_world() -> World:
    settings = CleanupSettings(INTAKE_ENV="local").model_copy(
        update={
            "batch_limit": 2,
            "abandoned_after_s": 3600,
            "orphan_temp_after_s": 3600,
            "orphan_multipart_after_s": 3600,
            "reconcile_after_s": 300,
            "reply_topic_grace_s": 600,
        }
    )
    return World(
        settings,
        FakeIndexDatabase(),
        FakeCleanupOutbound(),
        FakeObjectStore(page_size=2),
        FakePrune(),
        FakeReplyTopics(),
    )


def report(job: str = "job") -> RunReport:
    return RunReport(job)


def completed(session: IndexedSession, *, promoted: bool) -> CompletionResult:
    asset_id = keys.asset_id_for(session.id)
    return CompletionResult(
        asset=AssetView(
            asset_id=asset_id,
            upload_session_id=session.id,
            tenant_id=session.tenant_id,
            brand_id="b",
            title="a",
            file_name="a",
            mime_type="text/plain",
            size_bytes=5,
            bucket=BUCKET,
            object_key=keys.asset_key(session.tenant_id, asset_id)
            if promoted
            else session.temp_key,
            checksum_sha256=None,
            created_at=NOW,
            promoted_at=NOW if promoted else None,
        ),
        upload_session_id=session.id,
        created=False,
    )
