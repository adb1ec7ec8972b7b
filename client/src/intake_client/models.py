"""The API's answers as small typed records, parsed from JSON at the boundary."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class DirectUpload:
    url: str
    headers: dict[str, str]
    expires_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DirectUpload":
        headers = {str(k): str(v) for k, v in data["headers"].items()}
        return cls(data["url"], headers, _time(data["expires_at"]))


@dataclass(frozen=True)
class MultipartInfo:
    upload_id: str
    chunk_size: int
    part_count: int


@dataclass(frozen=True)
class Session:
    """The session view of the API."""

    upload_session_id: str
    status: str
    upload_type: str
    file_name: str
    file_size: int
    client_reference: str | None
    direct: DirectUpload | None
    multipart: MultipartInfo | None
    asset_id: str | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Session":
        direct, multipart = data.get("direct"), data.get("multipart")
        return cls(
            upload_session_id=str(data["upload_session_id"]),
            status=data["status"],
            upload_type=data["upload_type"],
            file_name=data["file_name"],
            file_size=int(data["file_size"]),
            client_reference=data.get("client_reference"),
            direct=DirectUpload.from_json(direct) if direct else None,
            multipart=MultipartInfo(
                multipart["upload_id"], int(multipart["chunk_size"]), int(multipart["part_count"])
            )
            if multipart
            else None,
            asset_id=data.get("asset_id"),
            raw=data,
        )


@dataclass(frozen=True)
class PartUrl:
    part_number: int
    url: str
    expires_at: datetime
    headers: dict[str, str] = field(default_factory=dict)  # signed: sent with the PUT

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PartUrl":
        headers = {str(k): str(v) for k, v in (data.get("headers") or {}).items()}
        return cls(int(data["part_number"]), data["url"], _time(data["expires_at"]), headers)


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    size: int
    etag: str


@dataclass(frozen=True)
class Resume:
    """What S3 already holds for a session, from GET /app/uploads/{id}/resume."""

    upload_session_id: str
    status: str
    upload_type: str
    can_resume: bool
    chunk_size: int | None
    part_count: int | None
    uploaded_parts: tuple[UploadedPart, ...]
    uploaded_bytes: int
    direct: DirectUpload | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Resume":
        direct = data.get("direct")
        return cls(
            upload_session_id=str(data["upload_session_id"]),
            status=data["status"],
            upload_type=data["upload_type"],
            can_resume=bool(data["can_resume"]),
            chunk_size=data.get("chunk_size"),
            part_count=data.get("part_count"),
            uploaded_parts=tuple(
                UploadedPart(int(p["part_number"]), int(p["size"]), str(p["etag"]))
                for p in data.get("uploaded_parts", [])
            ),
            uploaded_bytes=int(data.get("uploaded_bytes", 0)),
            direct=DirectUpload.from_json(direct) if direct else None,
        )


@dataclass(frozen=True)
class BatchOutcome:
    """One file of an initiate-batch answer: a session, or the error that file alone got."""

    client_reference: str
    session: Session | None
    error_code: str | None = None
    error_detail: str | None = None
