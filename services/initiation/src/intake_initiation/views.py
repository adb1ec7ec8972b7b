"""How a session is shown to callers: one mapping each to the session view, the shared record
and the lifecycle event. Fields of the same name are taken by name; only what differs is
spelled out. Pure: presigned URLs are made by the use cases and passed in."""

from typing import Any, TypeVar

from pydantic import BaseModel

from intake_contracts.events import UploadLifecycleEvent
from intake_contracts.sessions import (
    ActivityView,
    DirectUpload,
    MultipartInfo,
    ResumeView,
    SessionRecord,
    SessionView,
    StatusView,
    UploadedPart,
    UploadStatus,
    UploadType,
)
from intake_initiation.domain import Session

M = TypeVar("M", bound=BaseModel)


def _shown(model: type[M], session: Session, **differing: Any) -> M:
    """`model` filled from the session's fields of the same name, and `differing` for the rest."""
    same = {
        name: getattr(session, name)
        for name in model.model_fields
        if name not in differing and hasattr(session, name)
    }
    return model(upload_session_id=session.id, **same, **differing)


def multipart_info(session: Session) -> MultipartInfo | None:
    if session.upload_type != UploadType.MULTIPART or session.multipart_upload_id is None:
        return None
    return MultipartInfo(
        upload_id=session.multipart_upload_id,
        chunk_size=session.chunk_size or 0,
        part_count=session.part_count or 0,
    )


def session_view(session: Session, direct: DirectUpload | None) -> SessionView:
    return _shown(
        SessionView,
        session,
        file_size=session.size_bytes,
        direct=direct,
        multipart=multipart_info(session),
    )


def record(session: Session) -> SessionRecord:
    return _shown(SessionRecord, session)


def resume_view(
    session: Session, can_resume: bool, parts: list[UploadedPart], direct: DirectUpload | None
) -> ResumeView:
    return _shown(
        ResumeView,
        session,
        can_resume=can_resume,
        uploaded_parts=parts,
        uploaded_bytes=sum(part.size for part in parts),
        direct=direct,
    )


def activity_view(session: Session) -> ActivityView:
    return _shown(ActivityView, session)


def status_view(session: Session) -> StatusView:
    return _shown(StatusView, session)


def lifecycle_event(session: Session, previous: UploadStatus | None) -> UploadLifecycleEvent:
    return _shown(
        UploadLifecycleEvent, session, previous_status=previous, reason=session.failure_reason
    )
