"""Multipart uploads under the permanent prefix that no completion owns.

Promotion copies big objects to `tenants/{tenant}/assets/{asset}/original` in parts; a copy a
crash cut short leaves its multipart upload behind. Completion alone knows whether a saga will
still copy to a key (and abort stale uploads there itself), so cleanup asks it, one tenant at
a time, and aborts only the listed uploads older than the threshold that no saga owns. It
never reads completion's schema, and a copy started after the listing has a new upload id that
this run does not know, so it is never touched.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from intake_cleanup import domain
from intake_cleanup.ports import CleanupStorage, OutboundCommands
from intake_cleanup.report import RunReport, bounded
from intake_cleanup.settings import CleanupSettings
from intake_contracts.commands import MAX_PROMOTING_KEYS
from intake_contracts.errors import CodedError, TransientError
from intake_contracts.events import ResidueRemoved
from intake_contracts.keys import PERMANENT_PREFIX, asset_of_key
from intake_runtime.messaging.requests import ReplyTimeoutError
from intake_runtime.storage.s3 import MultipartUpload, StorageError

ABORT = "abort_multipart"
STAT = "permanent"


class PermanentUploads:
    def __init__(
        self, settings: CleanupSettings, store: CleanupStorage, outbound: OutboundCommands
    ) -> None:
        self._settings = settings
        self._store = store
        self._outbound = outbound

    async def sweep(self, report: RunReport, buckets: Sequence[str], now: datetime) -> None:
        older_than = domain.cutoff(now, self._settings.orphan_multipart_after_s)
        for bucket in buckets:
            uploads = [
                u
                async for page in self._store.iter_multipart_uploads(bucket, PERMANENT_PREFIX)
                for u in page
            ]
            report.count(f"{STAT}_listed", len(uploads))
            old = [u for u in uploads if asset_of_key(u.key) and u.initiated <= older_than]
            promoting = await self._promoting(report, old)
            if promoting is None:
                continue  # completion did not answer for every tenant: abort nothing here
            report.count(f"{STAT}_owned", sum(1 for u in old if u.key in promoting))
            doomed = [
                (upload, reason)
                for upload in old
                if (
                    reason := domain.permanent_upload_reason(
                        upload.key, upload.initiated, older_than, promoting
                    )
                )
            ]

            async def abort(entry: tuple[MultipartUpload, str], bucket: str = bucket) -> None:
                await self._abort(report, bucket, *entry)

            await bounded(self._settings.s3_concurrency, doomed, abort)

    async def _promoting(
        self, report: RunReport, uploads: Sequence[MultipartUpload]
    ) -> frozenset[str] | None:
        """The keys a saga still owns, asked per tenant; None when any question failed."""
        by_tenant: dict[str, set[str]] = defaultdict(set)
        for upload in uploads:
            named = asset_of_key(upload.key)
            if named is not None:
                by_tenant[named[0]].add(upload.key)
        owned: set[str] = set()
        for tenant, keys in sorted(by_tenant.items()):
            ordered = sorted(keys)
            for start in range(0, len(ordered), MAX_PROMOTING_KEYS):
                chunk = ordered[start : start + MAX_PROMOTING_KEYS]
                try:
                    owned |= await self._outbound.promoting_keys(tenant, chunk)
                except (CodedError, ReplyTimeoutError) as error:
                    report.error(f"promoting_keys of tenant {tenant}", error)
                    return None
        return frozenset(owned)

    async def _abort(
        self, report: RunReport, bucket: str, upload: MultipartUpload, reason: str
    ) -> None:
        try:
            # False when S3 no longer knew the upload: gone already, which is the goal.
            await self._store.abort_multipart(bucket, upload.key, upload.upload_id)
        except (TransientError, StorageError) as error:
            report.error(f"abort s3://{bucket}/{upload.key} upload {upload.upload_id}", error)
            return
        report.count(f"{STAT}_aborted")
        named = asset_of_key(upload.key)
        report.residue.append(
            ResidueRemoved(
                job=report.job,
                action=ABORT,
                bucket=bucket,
                key=upload.key,
                upload_id=upload.upload_id,
                upload_session_id=None,
                tenant_id=named[0] if named else None,
                reason=reason,
            )
        )
