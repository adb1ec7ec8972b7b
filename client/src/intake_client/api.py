"""The gateway's HTTP API, one method per route, problem+json turned into IntakeApiError."""

import uuid
from typing import Any

from intake_client.errors import GatewayUnreachableError, IntakeApiError
from intake_client.models import BatchOutcome, PartUrl, Resume, Session
from intake_client.retry import RetryPolicy
from intake_client.wire import Wire

DEFAULT_URL = "http://127.0.0.1:8000"  # the command line spells it too (cli.DEFAULT_URL)
MAX_BATCH_FILES = 100
MAX_PARTS_PER_SIGNING = 100


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

    async def aclose(self) -> None:
        self._wire.close()

    async def initiate(
        self, file_name: str, file_size: int, mime_type: str, brand_id: str, **extra: Any
    ) -> Session:
        body = {"file_name": file_name, "file_size": file_size, "mime_type": mime_type}
        body |= {"brand_id": brand_id, **{k: v for k, v in extra.items() if v is not None}}
        # One key for every attempt: a retried initiation returns the same session.
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        return Session.from_json(await self._call("POST", "/initiate", body, headers=headers))

    async def initiate_batch(
        self, brand_id: str, files: list[dict[str, Any]], batch_reference: str | None = None
    ) -> tuple[str, list[BatchOutcome]]:
        """Initiate ≤ 100 files at once; each file succeeds or fails on its own."""
        body: dict[str, Any] = {"brand_id": brand_id, "files": files}
        if batch_reference:
            body["batch_reference"] = batch_reference
        answer = await self._call("POST", "/initiate-batch", body, retry=False)
        return answer["batch_reference"], [_outcome(item) for item in answer["uploads"]]

    async def sign_parts(self, session_id: str, part_numbers: list[int]) -> list[PartUrl]:
        body = {"part_numbers": part_numbers}
        answer = await self._call("POST", f"/{session_id}/multipart-part-urls", body)
        return [PartUrl.from_json(part) for part in answer["parts"]]

    async def resume(self, session_id: str) -> Resume:
        return Resume.from_json(await self._call("GET", f"/{session_id}/resume"))

    async def session(self, session_id: str) -> Session:
        return Session.from_json(await self._call("GET", f"/{session_id}"))

    async def session_json(self, session_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/{session_id}")

    async def cancel(self, session_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/{session_id}/cancel")

    async def events(self, session_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/{session_id}/events")

    async def complete(
        self, session_id: str, parts: list[dict[str, Any]] | None, title: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"upload_session_id": session_id}
        if title:
            body["title"] = title
        if parts is not None:
            body["parts"] = parts
        return await self._call(
            "POST", "/complete", body, prefix="/app/assets/upload", policy=self._complete_retry
        )

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        prefix: str = "/app/uploads",
        retry: bool = True,
        policy: RetryPolicy | None = None,
    ) -> dict[str, Any]:
        async def attempt() -> dict[str, Any]:
            return await self._wire.request(method, prefix + path, body, headers)

        return await (policy or self._retry).run(attempt, None if retry else surely_not_processed)


def surely_not_processed(error: BaseException) -> bool:
    """A failure after which the request certainly changed nothing, so resending is safe."""
    if isinstance(error, IntakeApiError):
        return error.code == "service_unavailable"  # the broker was unreachable: never sent on
    return isinstance(error, GatewayUnreachableError) and not error.sent


def _outcome(item: dict[str, Any]) -> BatchOutcome:
    reference = str(item["client_reference"])
    if item.get("ok"):
        return BatchOutcome(reference, Session.from_json(item))
    error = item.get("error") or {}
    return BatchOutcome(reference, None, error.get("code", "unknown"), error.get("detail", ""))
