"""Pure rules of the completion saga: its steps, their order, leases and the tenant cap. No I/O.

finalizing  S3 upload finalized and verified, initiation asked to record COMPLETED; ends when
            the Asset is recorded (naming the temp key) — `complete` answers here, and
            hands its lease and the Asset over to the promoter (PromotionLease)
promoting   the object is copied to its permanent key; ends when the Asset names that key and
            `asset.promoted` is written, in one transaction
releasing   the temp object is deleted
done        nothing left to do
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final
from uuid import UUID

from intake_completion.domain import Asset


class Step(StrEnum):
    FINALIZING = "finalizing"
    PROMOTING = "promoting"
    RELEASING = "releasing"
    DONE = "done"


_NEXT: Final = {
    Step.FINALIZING: Step.PROMOTING,
    Step.PROMOTING: Step.RELEASING,
    Step.RELEASING: Step.DONE,
}


@dataclass(frozen=True)
class Attempt:
    """One session's completion saga: the step reached and who works on it."""

    upload_session_id: UUID
    tenant_id: str
    asset_id: UUID
    step: Step
    lease_owner: UUID | None
    lease_until: datetime | None
    tries: int = 0  # claims so far, of every step: a failing step backs off on it


@dataclass(frozen=True)
class PromotionLease:
    """What `complete` gives the promoter with the promoting step: the lease it kept when it
    recorded the Asset, and the Asset. The promoter neither claims the step nor reads the
    Asset again."""

    owner: UUID
    asset: Asset
    tries: int  # the claims so far (finalizing's): a failing promotion backs off on it

    def attempt(self) -> Attempt:
        asset = self.asset
        return Attempt(
            asset.upload_session_id,
            asset.tenant_id,
            asset.asset_id,
            Step.PROMOTING,
            self.owner,
            None,
            self.tries,
        )


# Steps run after `complete` answered, by the promoter, retried until done.
BACKGROUND: Final = frozenset({Step.PROMOTING, Step.RELEASING})


class StepConflictError(Exception):
    """A step was asked to advance from a step the saga is not at."""


def next_step(current: Step) -> Step:
    """The step after `current`.

    Raises:
        StepConflictError: `current` is the last step.
    """
    following = _NEXT.get(current)
    if following is None:
        raise StepConflictError(f"no step follows {current}")
    return following


def advance(current: Step, expected: Step) -> Step:
    """The step after `expected`, when the saga is at `expected`.

    Raises:
        StepConflictError: the saga is elsewhere (another worker moved it meanwhile).
    """
    if current != expected:
        raise StepConflictError(f"saga is at {current}, not {expected}")
    return next_step(current)


def asset_recorded(step: Step) -> bool:
    """From promoting on, the Asset exists: `complete` can answer with it."""
    return step != Step.FINALIZING


def lease_free(lease_until: datetime | None, now: datetime) -> bool:
    """No worker holds the step: never taken, released, or expired with a crashed worker."""
    return lease_until is None or lease_until <= now


def retry_delay_s(tries: int, first_s: float, longest_s: float) -> float:
    """How long a failed background step waits before its next claim: doubling from `first_s`
    with each try so far, never longer than `longest_s`."""
    if tries <= 1:
        return min(first_s, longest_s)
    # Past 2^32 the cap has long won; the exponent is bounded so the float never overflows.
    return min(first_s * 2.0 ** min(tries - 1, 32), longest_s)


def within_cap(running: int, cap: int) -> bool:
    """May one more of this tenant's completions start, `running` already holding a lease?"""
    return running < cap


def stored_sha256(checksum_sha256: str | None, checksum_type: str | None = None) -> str | None:
    """The whole object's SHA-256 (hex) as S3 stored it, or None when S3 has none usable.

    S3 keeps a SHA-256 only when the uploader sent one. A multipart upload's SHA-256 is
    composite (a checksum of the parts' checksums, shown with a `-N` suffix) and says nothing
    comparable to the file's own digest, so only a full-object value counts. SeaweedFS stores
    none: the caller then reads the object back.
    """
    if not checksum_sha256 or "-" in checksum_sha256:
        return None
    if (checksum_type or "FULL_OBJECT") != "FULL_OBJECT":
        return None
    try:
        digest = base64.b64decode(checksum_sha256, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == 32 else None
