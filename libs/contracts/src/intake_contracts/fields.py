"""Bounded field types every request and command shares, so each limit is stated once.

The bounds reach the OpenAPI document through the models that use them. Text a person
reads (names, titles, references, ids) refuses control characters: C0, DEL, C1 and the
bidirectional overrides and isolates that make `exe.txt` display as `txt.exe`.
"""

import unicodedata
from typing import Annotated, Final

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from intake_contracts import media_types

MAX_NAME_LENGTH: Final = 255
MAX_ID_LENGTH: Final = 128
MAX_MIME_TYPE_LENGTH: Final = 255
MAX_ETAG_LENGTH: Final = 128
MAX_PART_NUMBER: Final = 10_000
MAX_PARTS_PER_COMPLETE: Final = MAX_PART_NUMBER
# The same class in Python's `re`, Rust's regex (pydantic-core) and JSON Schema.
NO_CONTROL_CHARACTERS: Final = (
    r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"
)


def _nfc(value: object) -> object:
    # One spelling per name: "é" typed on macOS (NFD) and on Windows (NFC) is the same file.
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def blank_is_absent(value: str | None) -> str | None:
    """An empty or all-blank Idempotency-Key is no key at all, not one the tenant shares."""
    return value if value and value.strip() else None


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(
        min_length=min_length, max_length=max_length, pattern=NO_CONTROL_CHARACTERS
    )


FileName = Annotated[str, BeforeValidator(_nfc), _text(MAX_NAME_LENGTH, 1)]
Title = Annotated[str, _text(MAX_NAME_LENGTH)]
Reference = Annotated[str, _text(MAX_NAME_LENGTH)]
Identifier = Annotated[str, _text(MAX_ID_LENGTH, 1)]
# RFC 6838 `type/subtype` in full, stored lower-cased (media_types.py says why).
MimeType = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_MIME_TYPE_LENGTH, pattern=media_types.MEDIA_TYPE_PATTERN
    ),
    AfterValidator(media_types.normalised),
]
Checksum = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
ETag = Annotated[str, _text(MAX_ETAG_LENGTH, 1)]
PartNumber = Annotated[int, Field(ge=1, le=MAX_PART_NUMBER)]
# Sizes are checked against the configured maximum by initiation (422 file_too_large); this
# bound only keeps them exact in every JSON number type (5 TiB is far below it).
FileSize = Annotated[int, Field(ge=0, le=2**53)]
MAX_IDEMPOTENCY_KEY_LENGTH: Final = 255
IdempotencyKey = Annotated[str, _text(MAX_IDEMPOTENCY_KEY_LENGTH, 1)]
