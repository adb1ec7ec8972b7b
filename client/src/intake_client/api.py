"""The gateway's HTTP API, one method per route, problem+json turned into IntakeApiError.

Each method returns a `Call`, made when it is used: `await api.resume(id)` from async code, or
`api.resume(id).now()` blocking. The `intake` command makes its first calls the blocking way,
before asyncio is imported (cli.py); the routes, retries and answers are spelled once for both.
"""

import os
import threading
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from intake_client.errors import GatewayUnreachableError, IntakeApiError
from intake_client.retry import RetryPolicy
from intake_client.wire import Wire, off_loop

if TYPE_CHECKING:
    from intake_client.models import BatchOutcome, PartUrl, Resume, Session

DEFAULT_URL = "http://127.0.0.1:8000"  # the command line spells it too (cli.DEFAULT_URL)
MAX_BATCH_FILES = 100
MAX_PARTS_PER_SIGNING = 100

T = TypeVar("T")


class Call(Awaitable[T]):
    """One gateway call with its retries. `now()` blocks until it is done; awaiting it runs
    the same on a thread of its own (`off_loop`), so an event loop never blocks on the gateway.
    When the awaiting task is cancelled, no further try starts; one already sent finishes
    unobserved (as any request in flight would)."""

    def __init__(
        self,
        attempt: Callable[[], T],
        policy: RetryPolicy,
        retryable: Callable[[BaseException], bool] | None = None,
    ) -> None:
        self._attempt, self._policy, self._retryable = attempt, policy, retryable

    def now(self, stop: threading.Event | None = None) -> T:
        return self._policy.run_blocking(self._attempt, self._retryable, stop=stop)

    def __await__(self) -> Generator[Any, None, T]:
        return self._off_loop().__await__()

    async def _off_loop(self) -> T:
        stop = threading.Event()
        try:
            return await off_loop(lambda: self.now(stop))
        finally:
            stop.set()


class IntakeApi:
    """Calls retried here are safe to repeat: reads, signing, completion (exactly-once by
    design) and keyed initiation. Batch initiation is retried only when it surely did nothing.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._wire = Wire(base_url, headers, timeout_s)
        self._retry = retry or RetryPolicy()
        # Completion is exactly-once and every byte is already in S3: giving up early would
        # waste the whole upload, so it waits out a slow finalize (large copies) for longer.
        self._complete_retry = RetryPolicy(
            attempts=max(self._retry.attempts, 10), base_s=self._retry.base_s, cap_s=20.0
        )
        self.base_url = base_url.rstrip("/")

    @property
    def request_sent(self) -> threading.Event:
        """Set once any request of this client has been written out."""
        return self._wire.sent

    def close(self) -> None:
        self._wire.close()

    async def aclose(self) -> None:
        self.close()

    def initiate(
        self, file_name: str, file_size: int, mime_type: str, brand_id: str, **extra: Any
    ) -> "Call[Session]":
        body = {"file_name": file_name, "file_size": file_size, "mime_type": mime_type}
        body |= {"brand_id": brand_id, **{k: v for k, v in extra.items() if v is not None}}
        # One key for every attempt: a retried initiation returns the same session. Any
        # unique string serves; 128 random bits spare importing uuid before the first request.
        headers = {"Idempotency-Key": os.urandom(16).hex()}
        return self._call(_session, "POST", "/initiate", body, headers=headers)

    def initiate_batch(
        self, brand_id: str, files: list[dict[str, Any]], batch_reference: str | None = None
    ) -> "Call[tuple[str, list[BatchOutcome]]]":
        """Initiate ≤ 100 files at once; each file succeeds or fails on its own."""
        body: dict[str, Any] = {"brand_id": brand_id, "files": files}
        if batch_reference:
            body["batch_reference"] = batch_reference
        return self._call(_batch, "POST", "/initiate-batch", body, retry=False)

    def sign_parts(
        self, session_id: str, part_numbers: list[int], checksums: list[str] | None = None
    ) -> "Call[list[PartUrl]]":
        """`checksums`: each part's (base64), aligned; required when the session declared an
        algorithm, and then signed into its URL."""
        body: dict[str, Any] = {"part_numbers": part_numbers}
        if checksums is not None:
            body["checksums"] = checksums
        return self._call(_part_urls, "POST", f"/{session_id}/multipart-part-urls", body)

    def resume(self, session_id: str) -> "Call[Resume]":
        return self._call(_resume, "GET", f"/{session_id}/resume")

    def session(self, session_id: str) -> "Call[Session]":
        return self._call(_session, "GET", f"/{session_id}")

    def session_json(self, session_id: str) -> Call[dict[str, Any]]:
        return self._call(_as_is, "GET", f"/{session_id}")

    def cancel(self, session_id: str) -> Call[dict[str, Any]]:
        return self._call(_as_is, "POST", f"/{session_id}/cancel")

    def events(self, session_id: str) -> Call[dict[str, Any]]:
        return self._call(_as_is, "GET", f"/{session_id}/events")

    def complete(
        self, session_id: str, parts: list[dict[str, Any]] | None, title: str | None = None
    ) -> Call[dict[str, Any]]:
        body: dict[str, Any] = {"upload_session_id": session_id}
        if title:
            body["title"] = title
        if parts is not None:
            body["parts"] = parts
        return self._call(
            _as_is, "POST", "/complete", body,
            prefix="/app/assets/upload", policy=self._complete_retry,
        )  # fmt: skip

    def _call(
        self,
        parse: Callable[[dict[str, Any]], T],
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        prefix: str = "/app/uploads",
        retry: bool = True,
        policy: RetryPolicy | None = None,
    ) -> Call[T]:
        def attempt() -> T:
            return parse(self._wire.request(method, prefix + path, body, headers))

        return Call(attempt, policy or self._retry, None if retry else surely_not_processed)


def surely_not_processed(error: BaseException) -> bool:
    """A failure after which the request certainly changed nothing, so resending is safe."""
    if isinstance(error, IntakeApiError):
        return error.code == "service_unavailable"  # the broker was unreachable: never sent on
    return isinstance(error, GatewayUnreachableError) and not error.sent


def _as_is(answer: dict[str, Any]) -> dict[str, Any]:
    return answer


# The typed answers (models: dataclasses) are imported once an answer is in: the `intake`
# command's first request goes out without them (cli.py).


def _session(answer: dict[str, Any]) -> "Session":
    from intake_client.models import Session  # noqa: PLC0415 - see above

    return Session.from_json(answer)


def _resume(answer: dict[str, Any]) -> "Resume":
    from intake_client.models import Resume  # noqa: PLC0415 - see above

    return Resume.from_json(answer)


def _part_urls(answer: dict[str, Any]) -> "list[PartUrl]":
    from intake_client.models import PartUrl  # noqa: PLC0415 - see above

    return [PartUrl.from_json(part) for part in answer["parts"]]


def _batch(answer: dict[str, Any]) -> "tuple[str, list[BatchOutcome]]":
    return answer["batch_reference"], [_outcome(item) for item in answer["uploads"]]


def _outcome(item: dict[str, Any]) -> "BatchOutcome":
    from intake_client.models import BatchOutcome, Session  # noqa: PLC0415 - see above

    reference = str(item["client_reference"])
    if item.get("ok"):
        return BatchOutcome(reference, Session.from_json(item))
    error = item.get("error") or {}
    return BatchOutcome(reference, None, error.get("code", "unknown"), error.get("detail", ""))
