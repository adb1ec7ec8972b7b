"""Intake client library and CLI: resumable, parallel uploads through the Intake gateway.

Names are imported on first use (PEP 562): `intake` starts by importing this package, and
pulling httpx, rich and the upload machinery in before parsing its arguments would delay its
first request by several hundred milliseconds.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intake_client.api import IntakeApi
    from intake_client.errors import FileChangedError, IntakeApiError, IntakeError, TransferError
    from intake_client.manager import UploadManager
    from intake_client.progress import FileProgress, PartProgress
    from intake_client.results import FileResult, UploadOptions
    from intake_client.retry import RetryPolicy
    from intake_client.state import StateFile

_HOME = {
    "FileChangedError": "errors",
    "FileProgress": "progress",
    "FileResult": "results",
    "IntakeApi": "api",
    "IntakeApiError": "errors",
    "IntakeError": "errors",
    "PartProgress": "progress",
    "RetryPolicy": "retry",
    "StateFile": "state",
    "TransferError": "errors",
    "UploadManager": "manager",
    "UploadOptions": "results",
}

__all__ = [
    "FileChangedError",
    "FileProgress",
    "FileResult",
    "IntakeApi",
    "IntakeApiError",
    "IntakeError",
    "PartProgress",
    "RetryPolicy",
    "StateFile",
    "TransferError",
    "UploadManager",
    "UploadOptions",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'intake_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"intake_client.{module}"), name)
    globals()[name] = value  # once found, a plain attribute
    return value
