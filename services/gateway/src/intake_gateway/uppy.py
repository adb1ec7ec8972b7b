"""S3's own answers for the requests `@uppy/aws-s3` sends to the URLs Intake's Uppy plugin signs.

In `signRequest` mode Uppy's S3 client sends CreateMultipartUpload, ListParts,
CompleteMultipartUpload and AbortMultipartUpload to the URL it is given and parses S3's XML.
The plugin points those four at these routes, with the caller's bearer token in the
Authorization header, and each route is one command like every other route: create only reads
the session Intake already initiated (Uppy never starts an upload), ListParts is `resume`,
complete is `complete` (which creates the Asset once), abort is `cancel`. Part and direct PUTs
go straight to S3 with Intake's presigned URLs.
"""

from typing import Final
from uuid import UUID
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath

from intake_contracts.commands import Commands, CompletedPart, CompleteUpload
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.fields import MAX_ETAG_LENGTH
from intake_contracts.sessions import ResumeView, SessionView, UploadType
from intake_gateway.openapi import ON_A_LIVE_SESSION, ON_A_SESSION, SECURITY, WITH_BODY, problems
from intake_gateway.outbound import parse_session_id
from intake_gateway.routes import on_session, outbound_of

XML: Final = "application/xml"
S3_NAMESPACE: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
# The bucket S3 would name: Intake's objects live wherever initiation put them; the plugin
# only needs the session, which is the key it is given.
BUCKET: Final = "intake"
_MAX_PARTS_IN_BODY: Final = 10_000


def _xml_answer(description: str) -> dict[int, ResponseSpec]:
    return {200: ResponseSpec(data_container=str, media_type=XML, description=description)}


class UppyS3Controller(Controller):
    """`/app/uppy/{session_id}/…`: the session's S3-format answers for `@uppy/aws-s3`."""

    path = "/app/uppy"
    tags = ["uppy"]
    security = SECURITY

    @post(
        "/{session_id:str}/multipart",
        status_code=200,
        responses=_xml_answer("InitiateMultipartUploadResult of the session's upload")
        | problems("UppyCreate", *ON_A_LIVE_SESSION),
    )
    async def create(
        self, session_id: FromPath[str], principal: NamedDependency[Principal], state: State
    ) -> Response[str]:
        """The multipart upload initiation already started, in S3's words; nothing new in S3."""
        view = await on_session(state, Commands.GET_SESSION, session_id, principal)
        return _xml(initiate_result(view))

    @get(
        "/{session_id:str}/parts",
        responses=_xml_answer("ListPartsResult: every part S3 holds (all of S3's pages)")
        | problems("UppyListParts", *ON_A_SESSION),
    )
    async def list_parts(
        self, session_id: FromPath[str], principal: NamedDependency[Principal], state: State
    ) -> Response[str]:
        view = await on_session(state, Commands.RESUME, session_id, principal)
        return _xml(list_parts_result(view))

    @post(
        "/{session_id:str}/complete",
        status_code=200,
        responses=_xml_answer("CompleteMultipartUploadResult; the Asset exists")
        | problems(
            "UppyComplete",
            *WITH_BODY,
            *ON_A_LIVE_SESSION,
            ErrorCode.UPLOAD_INCOMPLETE,
            ErrorCode.PARTS_INVALID,
            ErrorCode.SIZE_MISMATCH,
        ),
    )
    async def complete(
        self,
        session_id: FromPath[str],
        request: Request[object, object, State],
        principal: NamedDependency[Principal],
        state: State,
    ) -> Response[str]:
        """The body is S3's CompleteMultipartUpload XML, as `@uppy/aws-s3` sends it."""
        upload_session_id = parse_session_id(session_id)
        parts = parse_complete(await request.body())
        command = CompleteUpload(upload_session_id=upload_session_id, parts=parts)
        result = await outbound_of(state).call(
            Commands.COMPLETE, command, principal, key=upload_session_id
        )
        location = f"{str(request.base_url).rstrip('/')}/app/uploads/{upload_session_id}"
        return _xml(complete_result(upload_session_id, location, str(result.asset.asset_id)))

    @delete(
        "/{session_id:str}",
        status_code=204,
        responses=problems("UppyAbort", *ON_A_SESSION),
    )
    async def abort(
        self, session_id: FromPath[str], principal: NamedDependency[Principal], state: State
    ) -> None:
        """AbortMultipartUpload is `cancel`: the session ends and its multipart upload goes."""
        await on_session(state, Commands.CANCEL, session_id, principal)


def _xml(body: str) -> Response[str]:
    return Response(body, media_type=XML, headers={"Cache-Control": "no-store"})


def _document(root: str, fields: list[tuple[str, str]], extra: str = "") -> str:
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns="{S3_NAMESPACE}">{inner}{extra}</{root}>'
    )


def initiate_result(view: SessionView) -> str:
    """S3's answer to CreateMultipartUpload for the upload initiation already started."""
    if view.upload_type is not UploadType.MULTIPART or view.multipart is None:
        raise DomainError(
            ErrorCode.INVALID_SESSION_STATE,
            "a direct upload has no multipart upload: PUT the file to its direct URL",
        )
    key = str(view.upload_session_id)
    fields = [("Bucket", BUCKET), ("Key", key), ("UploadId", view.multipart.upload_id)]
    return _document("InitiateMultipartUploadResult", fields)


def list_parts_result(view: ResumeView) -> str:
    """S3's ListPartsResult of every part `resume` found, in one page."""
    parts = "".join(
        "<Part>"
        f"<PartNumber>{part.part_number}</PartNumber>"
        f"<ETag>{escape(_quoted(part.etag))}</ETag>"
        f"<Size>{part.size}</Size>"
        "</Part>"
        for part in sorted(view.uploaded_parts, key=lambda part: part.part_number)
    )
    fields = [
        ("Bucket", BUCKET),
        ("Key", str(view.upload_session_id)),
        ("UploadId", view.multipart_upload_id or ""),
        ("IsTruncated", "false"),
    ]
    return _document("ListPartsResult", fields, parts)


def complete_result(upload_session_id: UUID, location: str, asset_id: str) -> str:
    fields = [
        ("Location", location),
        ("Bucket", BUCKET),
        ("Key", str(upload_session_id)),
        ("ETag", _quoted(asset_id)),
    ]
    return _document("CompleteMultipartUploadResult", fields)


def parse_complete(body: bytes) -> list[CompletedPart]:
    """The parts of a CompleteMultipartUpload body, or 422 `validation_failed` saying why."""
    try:
        # Bounded by the gateway's body limit; Python's expat (>= 2.4) refuses entity
        # expansion attacks and ElementTree resolves no external entity.
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as error:
        raise _invalid(f"the body is not XML: {error}") from None
    if _local(root.tag) != "CompleteMultipartUpload":
        raise _invalid("the body must be a <CompleteMultipartUpload> document")
    parts = [_part(element) for element in root if _local(element.tag) == "Part"]
    if not parts or len(parts) > _MAX_PARTS_IN_BODY:
        raise _invalid(f"a CompleteMultipartUpload names 1 to {_MAX_PARTS_IN_BODY} parts")
    return parts


def _part(element: ET.Element) -> CompletedPart:
    values = {_local(child.tag): (child.text or "").strip() for child in element}
    number, etag = values.get("PartNumber", ""), values.get("ETag", "")
    if not number.isdigit() or not etag or len(etag) > MAX_ETAG_LENGTH:
        raise _invalid("every <Part> needs a numeric <PartNumber> and an <ETag>")
    return CompletedPart(part_number=int(number), etag=etag)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _quoted(etag: str) -> str:
    return f'"{etag.strip(chr(34))}"'


def _invalid(detail: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, detail)
