"""RFC 9457 problem+json answers, each with a stable machine-readable `code`."""

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from intake_contracts.errors import HTTP_STATUS, DomainError, ErrorCode, TransientError
from intake_gateway.ratelimit import RateLimitedError
from intake_runtime.messaging.requests import (
    BrokerUnavailableError,
    CommandTooLargeError,
    ReplyTimeoutError,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    code: ErrorCode,
    detail: str,
    request: Request[Any, Any, Any] | None = None,
    *,
    extra: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, object]]:
    status = HTTP_STATUS[code]
    body: dict[str, object] = {
        "type": f"https://intake.dev/problems/{code.value.replace('_', '-')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code.value,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra or {})
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _come_back(
    code: ErrorCode, detail: str, request: Request[Any, Any, Any], retry_after_s: int
) -> Response[dict[str, object]]:
    """A problem a client solves by coming back: the Retry-After header says when."""
    return problem(code, detail, request, headers={"Retry-After": str(retry_after_s)})


def on_domain_error(
    request: Request[Any, Any, Any], error: DomainError
) -> Response[dict[str, object]]:
    return problem(error.code, error.detail, request)


def on_transient_error(
    retry_after_s: int,
) -> Callable[[Request[Any, Any, Any], TransientError], Response[dict[str, object]]]:
    """A 503 or 504 of the gateway's own or a service's (S3 down, a tenant at its completion
    cap: its reply carries a transient code, raised as a TransientError) says when to come
    back."""

    def handler(
        request: Request[Any, Any, Any], error: TransientError
    ) -> Response[dict[str, object]]:
        # A service's detail may name hosts or internals (S3's endpoint, a broker): logged.
        log.warning(
            "dependency unavailable",
            extra={"path": request.url.path, "code": error.code.value, "error": error.detail},
        )
        detail = _TRANSIENT_DETAILS.get(
            error.code, _TRANSIENT_DETAILS[ErrorCode.SERVICE_UNAVAILABLE]
        )
        return _come_back(
            error.code, f"{detail}; retry after {retry_after_s} s", request, retry_after_s
        )

    return handler


# What a client can act on, by code: come back later (the Retry-After header says when).
_TRANSIENT_DETAILS = {
    ErrorCode.SERVICE_UNAVAILABLE: "the upload service is briefly unavailable or busy",
    ErrorCode.STORAGE_UNAVAILABLE: "storage is briefly unavailable",
    ErrorCode.SERVICE_TIMEOUT: "the upload service did not answer in time",
}


def on_timeout(
    retry_after_s: int,
) -> Callable[[Request[Any, Any, Any], ReplyTimeoutError], Response[dict[str, object]]]:
    """504 with Retry-After: a service that did not answer in time (restarting, rebalancing)
    is a reason to come back, like a 503; without the header a client cannot tell it from a
    failure a retry will not fix."""

    def handler(
        request: Request[Any, Any, Any], error: ReplyTimeoutError
    ) -> Response[dict[str, object]]:
        log.warning("no reply in time", extra={"path": request.url.path, "error": str(error)})
        detail = (
            f"the upload service did not answer in time; retrying is safe after {retry_after_s} s"
        )
        return _come_back(ErrorCode.SERVICE_TIMEOUT, detail, request, retry_after_s)

    return handler


def on_broker_down(
    retry_after_s: int,
) -> Callable[[Request[Any, Any, Any], BrokerUnavailableError], Response[dict[str, object]]]:
    def handler(
        request: Request[Any, Any, Any], error: BrokerUnavailableError
    ) -> Response[dict[str, object]]:
        # The broker's error names its hosts: the operator's, in the log only.
        log.warning("broker unreachable", extra={"path": request.url.path, "error": str(error)})
        detail = f"the upload service is briefly unavailable; retry after {retry_after_s} s"
        return _come_back(ErrorCode.SERVICE_UNAVAILABLE, detail, request, retry_after_s)

    return handler


def on_command_too_large(
    request: Request[Any, Any, Any], error: CommandTooLargeError
) -> Response[dict[str, object]]:
    # Never 503: a retry of the same request can only fail the same way.
    log.info("command too large", extra={"path": request.url.path, "error": str(error)})
    return problem(
        ErrorCode.BODY_TOO_LARGE,
        "request too large to process: send fewer or smaller items",
        request,
    )


def on_rate_limited(
    request: Request[Any, Any, Any], error: RateLimitedError
) -> Response[dict[str, object]]:
    return problem(
        ErrorCode.RATE_LIMITED,
        f"too many requests for this {error.whose}",
        request,
        headers={"Retry-After": str(error.retry_after_s)},
    )


def on_too_deep(request: Request[Any, Any, Any], _: RecursionError) -> Response[dict[str, object]]:
    # The JSON decoder gives up on very deep nesting with a RecursionError.
    return problem(ErrorCode.MALFORMED_JSON, "request body is nested too deeply", request)


def on_validation(
    request: Request[Any, Any, Any], error: ValidationException
) -> Response[dict[str, object]]:
    # A media type outside the grammar keeps the code it had when initiation checked it.
    keys = {item.get("key") for item in error.extra or [] if isinstance(item, dict)}
    code = ErrorCode.MIME_TYPE_INVALID if keys == {"mime_type"} else ErrorCode.VALIDATION_FAILED
    return problem(
        code,
        error.detail or "request is invalid",
        request,
        extra={"errors": error.extra or []},
    )


def on_http(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, object]]:
    if isinstance(error, NotFoundException):
        return problem(ErrorCode.ROUTE_NOT_FOUND, "no such route", request)
    if error.status_code == 405:  # with the Allow header RFC 9110 asks for
        return problem(ErrorCode.METHOD_NOT_ALLOWED, error.detail, request, headers=error.headers)
    if error.status_code == 413:
        return problem(ErrorCode.BODY_TOO_LARGE, "request body is larger than allowed", request)
    if error.status_code == 400:
        return problem(ErrorCode.MALFORMED_JSON, error.detail, request)
    if error.status_code < 500:  # malformed bodies and the like: a validation failure
        return problem(ErrorCode.VALIDATION_FAILED, error.detail, request)
    return on_unexpected(request, error)


def on_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    log.error("unhandled error", exc_info=error, extra={"path": request.url.path})
    return problem(ErrorCode.INTERNAL_ERROR, "internal error", request)
