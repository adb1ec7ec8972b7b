"""The S3 adapter: `ObjectStore` (store.py) and the types and errors its callers use."""

from intake_runtime.storage.s3.bulk import DELETE_BATCH
from intake_runtime.storage.s3.client import open_object_store
from intake_runtime.storage.s3.copies import MULTIPART_COPY_PART_SIZE, copy_ranges
from intake_runtime.storage.s3.errors import (
    ChecksumRejectedError,
    ObjectNotFoundError,
    PartsRejectedError,
    PreconditionFailedError,
    StorageError,
    StorageUnavailableError,
    UploadNotFoundError,
)
from intake_runtime.storage.s3.objects import (
    CHECKSUM_ALGORITHMS,
    CompletedUpload,
    CopiedPart,
    DeleteFailure,
    MultipartUpload,
    ObjectHead,
    OpenedUpload,
    StoredObject,
    StoredPart,
    checksum_headers,
)
from intake_runtime.storage.s3.store import ObjectStore

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "DELETE_BATCH",
    "MULTIPART_COPY_PART_SIZE",
    "ChecksumRejectedError",
    "CompletedUpload",
    "CopiedPart",
    "DeleteFailure",
    "MultipartUpload",
    "ObjectHead",
    "ObjectNotFoundError",
    "ObjectStore",
    "OpenedUpload",
    "PartsRejectedError",
    "PreconditionFailedError",
    "StorageError",
    "StorageUnavailableError",
    "StoredObject",
    "StoredPart",
    "UploadNotFoundError",
    "checksum_headers",
    "copy_ranges",
    "open_object_store",
]
