"""The OpenAPI document: bearer auth and, per operation, every problem+json it can answer."""

from collections import defaultdict
from typing import Any, Final, Literal

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.openapi.spec import (
    Components,
    Link,
    OpenAPI,
    OpenAPIResponse,
    OpenAPIType,
    Schema,
    SecurityScheme,
)
from pydantic import BaseModel, create_model

from intake_contracts.errors import HTTP_STATUS, ErrorCode

PROBLEM_JSON: Final = "application/problem+json"
BEARER: Final = "BearerToken"
SECURITY: Final[list[dict[str, list[str]]]] = [{BEARER: []}]

# What any authenticated operation may answer, whatever it does.
_EVERY_CALL: Final = (
    ErrorCode.UNAUTHENTICATED,
    ErrorCode.PERMISSION_DENIED,
    ErrorCode.RATE_LIMITED,
    ErrorCode.SERVICE_UNAVAILABLE,
    ErrorCode.STORAGE_UNAVAILABLE,
    ErrorCode.SERVICE_TIMEOUT,
)
# Operations with a JSON body may also answer these.
WITH_BODY: Final = (ErrorCode.MALFORMED_JSON, ErrorCode.BODY_TOO_LARGE, ErrorCode.VALIDATION_FAILED)
ON_A_SESSION: Final = (ErrorCode.UPLOAD_SESSION_NOT_FOUND, ErrorCode.BRAND_NOT_ALLOWED)
ON_A_LIVE_SESSION: Final = (
    *ON_A_SESSION,
    ErrorCode.INVALID_SESSION_STATE,
    ErrorCode.UPLOAD_CANCELLED,
    ErrorCode.UPLOAD_FAILED,
    ErrorCode.UPLOAD_SESSION_EXPIRED,
)


class Problem(BaseModel):
    """RFC 9457 problem details with Intake's stable machine-readable `code`."""

    type: str
    title: str
    status: int
    code: ErrorCode
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


def problems(operation: str, *codes: ErrorCode) -> dict[int, ResponseSpec]:
    """One problem+json response per status this operation can answer, naming its codes."""
    by_status: dict[int, list[ErrorCode]] = defaultdict(list)
    for code in dict.fromkeys((*_EVERY_CALL, *codes)):
        by_status[HTTP_STATUS[code]].append(code)
    return {
        status: ResponseSpec(
            data_container=_problem_model(operation, status, found),
            description="codes: " + ", ".join(code.value for code in found),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status, found in sorted(by_status.items())
    }


def _problem_model(operation: str, status: int, codes: list[ErrorCode]) -> type[BaseModel]:
    code_type: Any = Literal[tuple(code.value for code in codes)]
    status_type: Any = Literal[status]
    return create_model(
        f"Problem{status}{operation}",
        __base__=Problem,
        __doc__=Problem.__doc__,
        code=(code_type, ...),
        status=(status_type, ...),
    )


def openapi_config(*, schema_pages: bool) -> OpenAPIConfig:
    """`schema_pages`: the browsable /schema pages (their renderers load from CDNs: local
    development only); without them only the document is served, /schema/openapi.json."""
    documents: list[OpenAPIRenderPlugin] = [JsonRenderPlugin(), YamlRenderPlugin()]
    pages: list[OpenAPIRenderPlugin] = [RedocRenderPlugin(), SwaggerRenderPlugin()]
    return OpenAPIConfig(
        title="Intake",
        version="1.0.0",
        path="/schema",
        # The first is /schema itself: Redoc where the pages are on, else the JSON document.
        render_plugins=[*pages, *documents] if schema_pages else documents,
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
    )


def restore_constraints(document: OpenAPI, models: list[type[BaseModel]]) -> None:
    """Put back the bounds Litestar drops: patterns of optional strings, limits of list items.

    Without them the document would not say that an optional reference refuses control
    characters or that part numbers start at 1, and generated clients would not know.
    """
    schemas = (document.components.schemas if document.components else None) or {}
    for model in models:
        target = schemas.get(model.__name__)
        properties = (target.properties if isinstance(target, Schema) else None) or {}
        for name, definition in model.model_json_schema()["properties"].items():
            prop = properties.get(name)
            if isinstance(prop, Schema):
                _restore_property(prop, definition)


def _restore_property(prop: Schema, definition: dict[str, Any]) -> None:
    pattern = next(
        (branch["pattern"] for branch in definition.get("anyOf", []) if "pattern" in branch),
        None,
    )
    for branch in prop.one_of or []:
        if pattern and isinstance(branch, Schema) and branch.type == OpenAPIType.STRING:
            branch.pattern = pattern
    _restore_item_patterns(prop, definition)
    items = definition.get("items", {})
    if isinstance(prop.items, Schema) and prop.items.type == OpenAPIType.INTEGER:
        prop.items.minimum = items.get("minimum", prop.items.minimum)
        prop.items.maximum = items.get("maximum", prop.items.maximum)


def _restore_item_patterns(prop: Schema, definition: dict[str, Any]) -> None:
    """The pattern of the strings of an optional list (`checksums`)."""
    pattern = next(
        (
            branch["items"]["pattern"]
            for branch in definition.get("anyOf", [])
            if "pattern" in branch.get("items", {})
        ),
        None,
    )
    for branch in prop.one_of or []:
        if (
            pattern
            and isinstance(branch, Schema)
            and isinstance(branch.items, Schema)
            and branch.items.type == OpenAPIType.STRING
        ):
            branch.items.pattern = pattern


def link_sessions(document: OpenAPI, created_by: tuple[str, str]) -> None:
    """Say that the session `created_by` answers is the `{session_id}` of every session path.

    Generated clients and stateful testers (schemathesis) follow these OpenAPI links from an
    initiate to the operations on the session it created.
    """
    path, method = created_by
    source = getattr(document.paths[path], method) if document.paths else None
    answer = source.responses.get("201") if source and source.responses else None
    if not isinstance(answer, OpenAPIResponse):
        return
    answer.links = {
        operation.operation_id: Link(
            operation_id=operation.operation_id,
            parameters={"session_id": "$response.body#/upload_session_id"},
        )
        for session_path, item in (document.paths or {}).items()
        if "{session_id}" in session_path
        for operation in (item.get, item.post, item.put)
        if operation is not None and operation.operation_id
    }
