"""Intake client library and CLI: resumable, parallel uploads through the Intake gateway."""

from intake_client.api import IntakeApi
from intake_client.errors import FileChangedError, IntakeApiError, IntakeError, TransferError
from intake_client.manager import UploadManager
from intake_client.progress import FileProgress, PartProgress
from intake_client.results import FileResult, UploadOptions
from intake_client.retry import RetryPolicy
from intake_client.state import StateFile

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
