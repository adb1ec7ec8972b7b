"""Object key and bucket layout: the immutable temp key contract and the permanent asset key."""

import re
import uuid
from typing import Final
from uuid import UUID

TEMP_PREFIX: Final = "temp/uploads/"
_TEMP_KEY = re.compile(r"^temp/uploads/(?P<session>[0-9a-f-]{36})/original$")
# Fixed forever: every retry of a completion must land on the same asset id.
ASSET_NAMESPACE: Final = UUID("6f1c7c1e-3d4b-5a8e-9b1f-2c6d8e0a4b7d")


def temp_key(upload_session_id: UUID) -> str:
    return f"{TEMP_PREFIX}{upload_session_id}/original"


def session_id_of_temp_key(key: str) -> UUID | None:
    """The session a temp object belongs to, or None for a key outside the contract."""
    match = _TEMP_KEY.match(key)
    if match is None:
        return None
    try:
        return UUID(match["session"])
    except ValueError:
        return None


def asset_key(tenant_id: str, asset_id: UUID) -> str:
    return f"tenants/{tenant_id}/assets/{asset_id}/original"


def asset_id_for(upload_session_id: UUID) -> UUID:
    return uuid.uuid5(ASSET_NAMESPACE, str(upload_session_id))


def bucket_for(base_bucket: str, strategy: str, tenant_id: str) -> str:
    """`shared` keeps every tenant in one bucket; `per_tenant` gives each its own."""
    if strategy == "per_tenant":
        return f"{base_bucket}-{tenant_id}"
    return base_bucket
