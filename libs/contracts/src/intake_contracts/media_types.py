"""Media types: the one grammar every service and the gateway check, the patterns that name
types (the allow and deny settings), the active content refused by default, and which stored
types a browser should download rather than show.

A media type is RFC 6838's `type "/" subtype`, each a restricted-name (a letter or digit, then
up to 126 of letters, digits and `!#$&-^_.+`), matched in full: no surrounding space, no
trailing newline, no parameters (`; charset=…`: the type alone decides what a file is, and the
exact text is what the presigned PUT signs). It is compared and stored lower-cased.
"""

import fnmatch
import re
from typing import Final

MAX_MEDIA_TYPE_LENGTH: Final = 255
_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
# `\Z`, not `$`: `$` also matches before a trailing newline.
_MEDIA_TYPE: Final = re.compile(rf"{_NAME}/{_NAME}\Z")
# The same grammar for JSON Schema (the OpenAPI document), case-insensitive by listing both.
MEDIA_TYPE_PATTERN: Final = (
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)
# A pattern of the settings: a type, `type/*`, `*/*`, or a subtype with `*` wildcards
# (`*/*+xml`: every XML-based type).
_PATTERN: Final = re.compile(r"(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)/[a-z0-9!#$&^_.+*-]+\Z")

# Types a browser renders and runs (script, markup that can carry script, plug-ins) when the
# object is opened from the bucket's origin: refused unless an operator allows them.
ACTIVE_CONTENT: Final = (
    "text/html",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "*/*+xml",  # SVG, XHTML, XSLT, RSS, MathML: any XML a browser may render with script
    "text/xsl",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/x-javascript",
    "text/ecmascript",
    "application/ecmascript",
    "application/x-ecmascript",
    "text/jscript",
    "text/livescript",
    "application/x-shockwave-flash",
    "multipart/x-mixed-replace",
    "text/cache-manifest",
)
# Types a browser shows without running anything of the file's; every other stored type is
# served as a download (Content-Disposition: attachment) once the object is permanent.
SHOWN_INLINE: Final = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/apng",
    "image/bmp",
    "image/tiff",
    "image/heic",
    "image/heif",
    "audio/*",
    "video/*",
    "text/plain",
    "application/pdf",
)
ATTACHMENT: Final = "attachment"


def normalised(value: str) -> str:
    """The media type as it is stored: lower-cased.

    Raises:
        ValueError: `value` is not `type/subtype` in full (what the refusal says).
    """
    lowered = value.lower()
    if len(value) > MAX_MEDIA_TYPE_LENGTH or not _MEDIA_TYPE.match(lowered):
        raise ValueError(_why_not(value))
    return lowered


def _why_not(value: str) -> str:
    if value != value.strip():
        return "mime_type must not start or end with space or a line break"
    if ";" in value:
        return "mime_type takes no parameters: send type/subtype alone (no `; charset=`)"
    return "mime_type must be type/subtype (RFC 6838 names)"


def patterns(value: str) -> list[str]:
    """Comma-separated patterns of a setting, lower-cased.

    Raises:
        ValueError: an entry is not a type, `type/*`, `*/*` or a subtype with wildcards.
    """
    found = [pattern.strip().lower() for pattern in value.split(",") if pattern.strip()]
    wrong = [pattern for pattern in found if not _PATTERN.match(pattern)]
    if wrong:
        raise ValueError(f"not media type patterns: {', '.join(wrong)}")
    return found


def matches(media_type: str, of: list[str] | tuple[str, ...]) -> bool:
    """Whether a normalised media type matches one of the patterns."""
    return any(fnmatch.fnmatchcase(media_type, pattern) for pattern in of)


def content_disposition(media_type: str) -> str | None:
    """What a permanent object of this type is served with: None (shown) or `attachment`."""
    return None if matches(media_type, SHOWN_INLINE) else ATTACHMENT
