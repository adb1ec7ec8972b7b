"""HTTP routes: thin translations from the API contract to one command each."""

import uuid
from typing import Annotated

from litestar import Controller, Response, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody

from intake_contracts.commands import (
    BatchResult,
    Commands,
    CommandSpec,
    CompleteUpload,
    EventsView,
    InitiateBatch,
    InitiateUpload,
    Res,
    SessionRef,
    SignParts,
)
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorBody, ErrorCode
from intake_contracts.fields import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    NO_CONTROL_CHARACTERS,
    blank_is_absent,
)
from intake_contracts.sessions import (
    ActivityView,
    PartUrl,
    PartUrls,
    ResumeView,
    SessionView,
    StatusView,
)
from intake_gateway.api import (
    BatchAnswer,
    BatchUploadAccepted,
    BatchUploadRefused,
    CheckedFiles,
    CompleteBody,
    CompletionView,
    InitiateBatchBody,
    InitiateBody,
    PartUrlBody,
    PartUrlsBody,
)
from intake_gateway.openapi import (
    ON_A_LIVE_SESSION,
    ON_A_SESSION,
    SECURITY,
    WITH_BODY,
    problems,
)
from intake_gateway.outbound import parse_session_id
from intake_gateway.ports import OutboundCommands
from intake_gateway.ratelimit import RateLimiter

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        pattern=NO_CONTROL_CHARACTERS,
        description="The same key from the same tenant returns the same session; blank = none.",
    ),
]
_PART_NUMBERS = (
    ErrorCode.PART_NUMBER_OUT_OF_RANGE,
    ErrorCode.CHECKSUM_REQUIRED,
    ErrorCode.CHECKSUM_INVALID,
)
_CHECKSUMS = (
    ErrorCode.CHECKSUM_REQUIRED,
    ErrorCode.CHECKSUM_INVALID,
    ErrorCode.CHECKSUM_ALGORITHM_UNSUPPORTED,
)


def outbound_of(state: State) -> OutboundCommands:
    """The services' client, put on the app's state at start-up (app.py). Read from the state
    rather than injected as a dependency: a second dependency beside `principal` made Litestar
    resolve the two in an anyio task group, two tasks per request (measured in issue 15)."""
    client: OutboundCommands = state.outbound
    return client


def limiter_of(state: State) -> RateLimiter:
    """The tenants' rate limiter, on the app's state for the costs beyond one request."""
    limiter: RateLimiter = state.tenant_limiter
    return limiter


async def on_session(
    state: State, command: CommandSpec[SessionRef, Res], session_id: str, principal: Principal
) -> Res:
    """`command` for the session the path names, keyed by it (its commands stay in order)."""
    ref = SessionRef(upload_session_id=parse_session_id(session_id))
    return await outbound_of(state).call(command, ref, principal, key=ref.upload_session_id)


class UploadsController(Controller):
    path = "/app/uploads"
    tags = ["uploads"]
    security = SECURITY

    @post(
        "/initiate",
        status_code=201,
        responses=problems(
            "Initiate",
            *WITH_BODY,
            ErrorCode.BRAND_NOT_ALLOWED,
            ErrorCode.FILE_TOO_LARGE,
            ErrorCode.FILE_SIZE_INVALID,
            ErrorCode.FILE_NAME_INVALID,
            ErrorCode.MIME_TYPE_INVALID,
            ErrorCode.MIME_TYPE_NOT_ALLOWED,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            *_CHECKSUMS,
            ErrorCode.QUOTA_EXCEEDED,
        ),
    )
    async def initiate(
        self,
        data: JSONBody[InitiateBody],
        principal: NamedDependency[Principal],
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> SessionView:
        principal.require_brand(data.brand_id)
        command = InitiateUpload(
            **data.model_dump(), idempotency_key=blank_is_absent(idempotency_key)
        )
        return await outbound_of(state).call(Commands.INITIATE, command, principal)

    @post(
        "/initiate-batch",
        status_code=200,
        responses=problems("InitiateBatch", *WITH_BODY, ErrorCode.BRAND_NOT_ALLOWED),
    )
    async def initiate_batch(
        self, data: JSONBody[InitiateBatchBody], principal: NamedDependency[Principal], state: State
    ) -> BatchAnswer:
        principal.require_brand(data.brand_id)
        refused = data.files.refused if isinstance(data.files, CheckedFiles) else {}
        valid = list(data.files)
        # A batch costs what its files would cost one by one (the request itself took one).
        limiter_of(state).admit(principal.tenant_id, len(valid) + len(refused) - 1)
        if not valid:
            reference = data.batch_reference or str(uuid.uuid4())
            return _batch_answer(BatchResult(batch_reference=reference, uploads=[]), refused)
        command = InitiateBatch(
            brand_id=data.brand_id, batch_reference=data.batch_reference, files=valid
        )
        result = await outbound_of(state).call(Commands.INITIATE_BATCH, command, principal)
        return _batch_answer(result, refused)

    @post(
        "/{session_id:str}/multipart-part-url",
        status_code=200,
        responses=problems("PartUrl", *WITH_BODY, *ON_A_LIVE_SESSION, *_PART_NUMBERS),
    )
    async def part_url(
        self,
        session_id: FromPath[str],
        data: JSONBody[PartUrlBody],
        principal: NamedDependency[Principal],
        state: State,
    ) -> PartUrl:
        checksums = None if data.checksum is None else [data.checksum]
        parts = await self._sign(
            session_id, [data.part_number], checksums, principal, outbound_of(state)
        )
        return parts.parts[0]

    @post(
        "/{session_id:str}/multipart-part-urls",
        status_code=200,
        responses=problems("PartUrls", *WITH_BODY, *ON_A_LIVE_SESSION, *_PART_NUMBERS),
    )
    async def part_urls(
        self,
        session_id: FromPath[str],
        data: JSONBody[PartUrlsBody],
        principal: NamedDependency[Principal],
        state: State,
    ) -> PartUrls:
        return await self._sign(
            session_id, data.part_numbers, data.checksums, principal, outbound_of(state)
        )

    @staticmethod
    async def _sign(
        session_id: str,
        part_numbers: list[int],
        checksums: list[str] | None,
        principal: Principal,
        outbound: OutboundCommands,
    ) -> PartUrls:
        upload_session_id = parse_session_id(session_id)
        command = SignParts(
            upload_session_id=upload_session_id, part_numbers=part_numbers, checksums=checksums
        )
        return await outbound.call(Commands.SIGN_PARTS, command, principal, key=upload_session_id)

    @get("/{session_id:str}/resume", responses=problems("Resume", *ON_A_SESSION))
    async def resume(
        self, session_id: FromPath[str], principal: NamedDependency[Principal], state: State
    ) -> ResumeView:
        return await on_session(state, Commands.RESUME, session_id, principal)

    @put(
        "/{session_id:str}/activity",
        status_code=200,
        responses=problems("Activity", *ON_A_LIVE_SESSION),
    )
    async def activity(
        self, session_id: FromPath[str], principal: NamedDependency[Principal], state: State
    ) -> ActivityView:
        return await on_session(state, Commands.TOUCH_ACTIVITY, session_id, principal)

    @post("/{session_id:str}/cancel", status_code=200, responses=problems("Cancel", *ON_A_SESSION))
    async def cancel(
        self, session_id: FromPath[str], principal: NamedDependency[Principal], state: State
    ) -> StatusView:
        return await on_session(state, Commands.CANCEL, session_id, principal)

    @get("/{session_id:str}", responses=problems("Session", *ON_A_SESSION))
    async def session(
        self, session_id: FromPath[str], principal: NamedDependency[Principal], state: State
    ) -> SessionView:
        return await on_session(state, Commands.GET_SESSION, session_id, principal)

    @get("/{session_id:str}/events", responses=problems("Events", *ON_A_SESSION))
    async def events(
        self, session_id: FromPath[str], principal: NamedDependency[Principal], state: State
    ) -> EventsView:
        # The session is looked up first, so another tenant's id is a 404 here as everywhere.
        await on_session(state, Commands.GET_SESSION, session_id, principal)
        return await on_session(state, Commands.GET_EVENTS, session_id, principal)


class AssetsController(Controller):
    path = "/app/assets"
    tags = ["assets"]
    security = SECURITY

    @post(
        "/upload/complete",
        status_code=201,
        responses={
            200: ResponseSpec(CompletionView, description="completed before: the same asset"),
        }
        | problems(
            "Complete",
            *WITH_BODY,
            *ON_A_LIVE_SESSION,
            ErrorCode.UPLOAD_INCOMPLETE,
            ErrorCode.PARTS_INVALID,
            ErrorCode.SIZE_MISMATCH,
            ErrorCode.CHECKSUM_REQUIRED,
            ErrorCode.CHECKSUM_INVALID,
            ErrorCode.CHECKSUM_MISMATCH,
        ),
    )
    async def complete(
        self, data: JSONBody[CompleteBody], principal: NamedDependency[Principal], state: State
    ) -> Response[CompletionView]:
        command = CompleteUpload(**data.model_dump())
        key = data.upload_session_id
        result = await outbound_of(state).call(Commands.COMPLETE, command, principal, key=key)
        view = CompletionView(asset=result.asset, upload_session_id=result.upload_session_id)
        return Response(view, status_code=201 if result.created else 200)


def _batch_answer(result: BatchResult, refused: dict[int, BatchUploadRefused]) -> BatchAnswer:
    """The services' outcomes and the gateway's own refusals, in the request's order."""
    outcomes = iter(result.uploads)
    uploads: list[BatchUploadAccepted | BatchUploadRefused] = []
    for position in range(len(result.uploads) + len(refused)):
        if position in refused:
            uploads.append(refused[position])
            continue
        item = next(outcomes)
        if item.session is not None:
            view = item.session.model_dump(exclude={"client_reference"})
            uploads.append(BatchUploadAccepted(client_reference=item.client_reference, **view))
        else:
            error = item.error or ErrorBody(code=ErrorCode.INTERNAL_ERROR, detail="no outcome")
            uploads.append(BatchUploadRefused(client_reference=item.client_reference, error=error))
    return BatchAnswer(batch_reference=result.batch_reference, uploads=uploads)
