"""What completion shows of an Asset: the reply to `complete` and the asset events."""

from uuid import UUID

from intake_completion import domain
from intake_completion.domain import Asset, CheckedObject
from intake_contracts.commands import AssetView, CompletionResult
from intake_contracts.events import AssetCreated, AssetIntegrityFailed, AssetPromoted
from intake_contracts.sessions import SessionRecord


def draft(
    session: SessionRecord,
    asset_id: UUID,
    object_key: str,
    title: str | None,
    checked: CheckedObject,
) -> Asset:
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
        etag=checked.etag,
        checksum_algorithm=checked.checksum_algorithm,
        checksum=checked.checksum,
        created_at=None,
    )


def view(asset: Asset) -> AssetView:
    if asset.created_at is None:
        raise ValueError("an asset is shown only once it is stored")
    return AssetView(**asset.model_dump(exclude={"user_id"}))


def result(asset: Asset, *, created: bool) -> CompletionResult:
    return CompletionResult(
        asset=view(asset), upload_session_id=asset.upload_session_id, created=created
    )


def created_event(asset: Asset) -> AssetCreated:
    """The event of an Asset about to be written: it carries no timestamps."""
    return AssetCreated(**asset.model_dump(include=set(AssetCreated.model_fields)))


def integrity_failed_event(asset: Asset, found_etag: str | None) -> AssetIntegrityFailed:
    if asset.integrity_failed_at is None or asset.etag is None:
        raise ValueError("an asset failing integrity carries when, and the ETag it expected")
    return AssetIntegrityFailed(
        asset_id=asset.asset_id,
        upload_session_id=asset.upload_session_id,
        tenant_id=asset.tenant_id,
        bucket=asset.bucket,
        object_key=asset.object_key,
        expected_etag=asset.etag,
        found_etag=found_etag,
        failed_at=asset.integrity_failed_at,
    )


def promoted_event(asset: Asset, previous_key: str) -> AssetPromoted:
    shown = view(asset)
    if shown.promoted_at is None:
        raise ValueError("a promoted asset carries its promotion time")
    fields = set(AssetPromoted.model_fields) - {"previous_key"}
    return AssetPromoted(**shown.model_dump(include=fields), previous_key=previous_key)
