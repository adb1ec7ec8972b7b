"""Object key and bucket layout: the immutable temp key contract and the permanent asset key."""

import re
import uuid
from typing import Final
from uuid import UUID

TEMP_PREFIX: Final = "temp/uploads/"
PERMANENT_PREFIX: Final = "tenants/"
_ASSET_KEY = re.compile(r"^tenants/(?P<tenant>[^/]+)/assets/(?P<asset>[0-9a-f-]{36})/original$")
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


def asset_of_key(key: str) -> tuple[str, UUID] | None:
    """(tenant, asset) a permanent key names, or None for a key outside that layout."""
    match = _ASSET_KEY.match(key)
    if match is None:
        return None
    try:
        return match["tenant"], UUID(match["asset"])
    except ValueError:
        return None


def asset_id_for(upload_session_id: UUID) -> UUID:
    return uuid.uuid5(ASSET_NAMESPACE, str(upload_session_id))


def bucket_for(base_bucket: str, strategy: str, tenant_id: str) -> str:
    """`shared` keeps every tenant in one bucket; `per_tenant` gives each its own."""
    if strategy == "per_tenant":
        return f"{base_bucket}-{tenant_id}"
    return base_bucket


# S3 bucket names: 3-63 lowercase letters, digits and hyphens (dots are left out: they break
# virtual-hosted TLS), starting and ending with a letter or digit.
_BUCKET_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]")
_RESERVED_PREFIXES: Final = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES: Final = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
MAX_BUCKET_NAME_LENGTH: Final = 63
MAX_TENANT_ID_LENGTH: Final = 40
# One rule for every tenant id: lowercase letters and digits in runs joined by single hyphens,
# so `{AWS_BUCKET}-{tenant_id}` never ends in a hyphen, a reserved suffix or a double hyphen.
TENANT_ID_PATTERN: Final = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def is_valid_tenant_id(tenant_id: str) -> bool:
    return (
        len(tenant_id) <= MAX_TENANT_ID_LENGTH
        and _TENANT_ID.fullmatch(tenant_id) is not None
        and not tenant_id.endswith("s3alias")
    )


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid S3 bucket name, or None when it is."""
    if not _BUCKET_NAME.fullmatch(name):
        return f"{name!r} is not 3-63 lowercase letters, digits and inner hyphens"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return f"{name!r} uses a prefix or suffix S3 reserves"
    return None


def per_tenant_bucket_problem(base_bucket: str) -> str | None:
    """Why `{base_bucket}-{tenant_id}` could be invalid for some valid tenant id, or None."""
    if problem := bucket_name_problem(base_bucket):
        return problem
    room = MAX_BUCKET_NAME_LENGTH - len(base_bucket) - 1
    if room < MAX_TENANT_ID_LENGTH:
        return (
            f"{base_bucket!r} leaves {room} characters for tenant ids of up to "
            f"{MAX_TENANT_ID_LENGTH}; per_tenant needs a base of at most "
            f"{MAX_BUCKET_NAME_LENGTH - MAX_TENANT_ID_LENGTH - 1} characters"
        )
    return None
