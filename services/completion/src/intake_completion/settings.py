"""The completion service's one configuration object."""

from typing import Final, Literal

from pydantic import Field

from intake_runtime.settings import PostgresSettings, S3Settings, ServiceSettings

SCHEMA: Final = "completion"
MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB

# Test-only fault injection points (see `CompletionSettings.fault`).
CRASH_AFTER_MARK_COMPLETED: Final = "crash_after_mark_completed"


class CompletionSettings(ServiceSettings, PostgresSettings, S3Settings):
    # S3 copies one object of at most 5 GiB; above this a multipart copy is used. Tests set it
    # low (e.g. 6 MiB) to exercise the multipart copy with small files.
    multipart_copy_threshold: int = Field(
        default=5 * GiB, alias="INTAKE_MULTIPART_COPY_THRESHOLD", ge=5 * MiB, le=5 * GiB
    )
    # Server-side copies of multi-GiB objects take minutes, not the seconds a HEAD takes.
    s3_timeout_s: float = Field(default=300.0, alias="INTAKE_S3_TIMEOUT_S", gt=0)
    command_workers: int = Field(default=4, alias="INTAKE_COMMAND_WORKERS", ge=1, le=64)
    # How long a completion waits for another completion of the same session to finish.
    session_lock_timeout_s: float = Field(
        default=120.0, alias="INTAKE_COMPLETION_LOCK_TIMEOUT_S", gt=0
    )
    # TEST ONLY, never set in production: `crash_after_mark_completed` ends the process right
    # after initiation recorded COMPLETED and before the Asset exists, to prove that a retry
    # repairs that crash.
    fault: Literal["", "crash_after_mark_completed"] = Field(
        default="", alias="INTAKE_COMPLETION_FAULT"
    )
