"""The completion service's one configuration object."""

from typing import Final, Literal

from pydantic import Field

from intake_runtime.settings import (
    CommandWorkers,
    PostgresSettings,
    S3Settings,
    S3TimeoutS,
    ServiceSettings,
)

SERVICE: Final = "completion"
SCHEMA: Final = "completion"
MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB

# Test-only fault injection points (see `CompletionSettings.fault`).
CRASH_AFTER_MARK_COMPLETED: Final = "crash_after_mark_completed"
CRASH_DURING_PROMOTION: Final = "crash_during_promotion"


class CompletionSettings(ServiceSettings, PostgresSettings, S3Settings):
    # Promotion copies an object up to this size with one CopyObject; above it, parts of
    # `copy_part_size` are copied `copy_concurrency` at a time (one copy stops at 5 GiB in any
    # case). Measured on SeaweedFS, 1 GiB promoted in 15.9 s in four parallel parts against
    # 18.8 s in one copy (issue 16's complete_latency runs, in git history).
    # Tests set it low (e.g. 6 MiB) to exercise the multipart copy with small files.
    multipart_copy_threshold: int = Field(
        default=256 * MiB, alias="INTAKE_MULTIPART_COPY_THRESHOLD", ge=5 * MiB, le=5 * GiB
    )
    # Raised when needed to stay within 10,000 parts, lowered to the threshold.
    copy_part_size: int = Field(
        default=256 * MiB, alias="INTAKE_COPY_PART_SIZE", ge=5 * MiB, le=5 * GiB
    )
    copy_concurrency: int = Field(default=8, alias="INTAKE_COPY_CONCURRENCY", ge=1, le=64)
    # Promotion writes the permanent key with If-None-Match: *, so it never replaces an
    # asset's bytes; off only for a store that refuses the header (AWS S3 and SeaweedFS >= 4
    # honour it).
    promotion_if_none_match: bool = Field(default=True, alias="INTAKE_PROMOTION_IF_NONE_MATCH")
    # Server-side copies of multi-GiB objects take minutes, not the seconds a HEAD takes.
    s3_timeout_s: S3TimeoutS = 300.0
    command_workers: CommandWorkers = 4
    # How long a completion waits for another completion of the same session to finish.
    session_lock_timeout_s: float = Field(
        default=120.0, alias="INTAKE_COMPLETION_LOCK_TIMEOUT_S", gt=0
    )
    # A saga step's lease: renewed every third of it while its worker lives, so only a crashed
    # worker's step is taken over, this long after its last renewal.
    lease_s: float = Field(default=60.0, alias="INTAKE_COMPLETION_LEASE_S", gt=0)
    # Finalizations (and checksum reads) of one tenant running at once; more answer 503 with
    # Retry-After, so one tenant's huge files cannot hold every worker.
    tenant_cap: int = Field(default=2, alias="INTAKE_COMPLETION_TENANT_CAP", ge=1)
    # Promotions running at once in this process, and how often it looks for unfinished ones
    # (failed, or left by a crashed replica once their lease expired).
    promotion_workers: int = Field(default=4, alias="INTAKE_PROMOTION_WORKERS", ge=1, le=64)
    promotion_sweep_s: float = Field(default=10.0, alias="INTAKE_PROMOTION_SWEEP_S", gt=0)
    # A failed promotion waits the sweep interval, doubled per try so far, at most this.
    promotion_backoff_max_s: float = Field(
        default=300.0, alias="INTAKE_PROMOTION_BACKOFF_MAX_S", gt=0
    )
    # TEST ONLY, never set in production: `crash_after_mark_completed` ends the process right
    # after initiation recorded COMPLETED and before the Asset exists, to prove that a retry
    # repairs that crash; `crash_during_promotion` ends it after the copy to the permanent key
    # and before the Asset names it, to prove that a promotion converges.
    fault: Literal["", "crash_after_mark_completed", "crash_during_promotion"] = Field(
        default="", alias="INTAKE_COMPLETION_FAULT"
    )

    def refusals(self) -> list[str]:
        problems = super().refusals()
        if self.production and self.fault:
            problems.append(
                "INTAKE_COMPLETION_FAULT: a test-only crash point, refused in production"
            )
        return problems
