"""Errors the client raises: API refusals (problem+json) and failed transfers."""


class IntakeError(Exception):
    """Base class of every error this client raises on purpose."""


class IntakeApiError(IntakeError):
    """The gateway refused a request with an RFC 9457 problem: a stable `code`, status, detail."""

    def __init__(self, code: str, status: int, detail: str) -> None:
        super().__init__(f"{code} ({status}): {detail}")
        self.code = code
        self.status = status
        self.detail = detail

    @property
    def retryable(self) -> bool:
        # 5xx answers (timeout, broker or storage down) promise that a retry is safe.
        return self.status >= 500


class GatewayUnreachableError(IntakeError):
    """No answer from the gateway: the connection was refused, broke, or timed out.

    `sent` is False when the connection could not even be opened: the request then surely
    changed nothing, and resending it is safe whatever it was.
    """

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class TransferError(IntakeError):
    """Bytes could not be stored in S3 after the allowed retries and re-signings."""


class FileChangedError(IntakeError):
    """The local file no longer matches what the upload session declared."""
