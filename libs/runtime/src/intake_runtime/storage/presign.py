"""SigV4 query signing (presigned S3 URLs) with the standard library.

botocore resolves its endpoint rules again for every URL it presigns (about 1 ms of CPU each,
most of presigning's share of an initiate); the endpoint of a bucket never changes while the
process runs. `Endpoint.learn` reads it once from a URL botocore signed, and `presign` signs
the next URLs for that bucket itself, byte for byte as botocore does (same query order, same
quoting), which tests/integration/test_s3_adapter.py checks against botocore and SeaweedFS.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
_SERVICE = "s3"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """Where a bucket's objects live: scheme and host, the path before the key, the region."""

    origin: str
    host: str
    prefix: str
    region: str

    @classmethod
    def learn(cls, url: str, key: str) -> "Endpoint":
        """The endpoint of a URL botocore presigned for `key` (path-style or virtual-hosted).

        Raises:
            ValueError: the URL does not end in the key or carries no credential scope.
        """
        parts = urlsplit(url)
        quoted_key = _quote_key(key)
        if not parts.path.endswith(quoted_key):
            raise ValueError("the presigned URL does not end in its key")
        scope = dict(parse_qsl(parts.query)).get("X-Amz-Credential", "").split("/")
        if len(scope) != 5 or scope[3] != _SERVICE:
            raise ValueError("the presigned URL carries no S3 credential scope")
        return cls(
            origin=f"{parts.scheme}://{parts.netloc}",
            host=parts.netloc,
            prefix=parts.path[: len(parts.path) - len(quoted_key)],
            region=scope[2],
        )


def presign(
    endpoint: Endpoint,
    credentials: Credentials,
    key: str,
    *,
    now: datetime,
    expires_s: int,
    headers: dict[str, str],
    params: list[tuple[str, str]] = [],  # noqa: B006 - never mutated
    method: str = "PUT",
) -> str:
    """A presigned URL of `method` on `key`, with `headers` (lower-case names) signed.

    `params` are the operation's own query parameters in botocore's order (uploadId, then
    partNumber); `now` must be UTC.
    """
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    scope = f"{day}/{endpoint.region}/{_SERVICE}/aws4_request"
    signed = {**headers, "host": endpoint.host}
    names = sorted(signed)
    auth = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires_s)),
        ("X-Amz-SignedHeaders", ";".join(names)),
    ]
    if credentials.token:
        auth.append(("X-Amz-Security-Token", credentials.token))
    query = [*params, *auth]
    path = endpoint.prefix + _quote_key(key)
    canonical = "\n".join(
        [
            method,
            path,
            "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(query)),
            *(f"{name}:{' '.join(signed[name].split())}" for name in names),
            "",
            ";".join(names),
            "UNSIGNED-PAYLOAD",
        ]
    )
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signature = hmac.new(
        _signing_key(credentials.secret_key, day, endpoint.region), to_sign.encode(), "sha256"
    ).hexdigest()
    encoded = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query)
    return f"{endpoint.origin}{path}?{encoded}&X-Amz-Signature={signature}"


_keys: dict[tuple[str, str, str], bytes] = {}


def _signing_key(secret: str, day: str, region: str) -> bytes:
    """The day's derived key (four HMACs), kept: it changes once a day per secret."""
    cached = _keys.get((secret, day, region))
    if cached is None:
        cached = _hmac(f"AWS4{secret}".encode(), day)
        for part in (region, _SERVICE, "aws4_request"):
            cached = _hmac(cached, part)
        if len(_keys) > 64:  # rotated secrets and past days must not accumulate
            _keys.clear()
        _keys[(secret, day, region)] = cached
    return cached


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), "sha256").digest()


def _quote(value: str) -> str:
    return quote(value, safe="-_.~")


def _quote_key(key: str) -> str:
    return quote(key, safe="/~")
