"""The one media type grammar: tricky spellings, the default refusals, the settings' patterns
and which permanent objects are served as downloads."""

import pytest
from pydantic import BaseModel, ValidationError

from intake_contracts import media_types
from intake_contracts.fields import MimeType


class _Typed(BaseModel):
    mime_type: MimeType


@pytest.mark.parametrize(
    ("spelling", "stored"),
    [
        ("image/png", "image/png"),
        ("IMAGE/PNG", "image/png"),
        ("Video/MP4", "video/mp4"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("application/x-7z-compressed", "application/x-7z-compressed"),
    ],
)
def test_a_type_in_the_grammar_is_stored_lower_cased(spelling: str, stored: str) -> None:
    assert media_types.normalised(spelling) == stored
    assert _Typed(mime_type=spelling).mime_type == stored


@pytest.mark.parametrize(
    "spelling",
    [
        "text/html\n",  # `$` would match before the newline; SigV4 would trim it
        "image/png\r\n",
        " image/png",
        "image/png ",
        "\timage/png",
        "image/png; charset=utf-8",
        "image/png;",
        "image / png",
        "image",
        "image/",
        "/png",
        "image/png/x",
        "image/p\x00ng",
        "-image/png",
        "image/.png",
        "ímage/png",
        "a" * 128 + "/png",
    ],
)
def test_a_spelling_outside_the_grammar_is_refused_by_the_contract(spelling: str) -> None:
    with pytest.raises(ValueError):
        media_types.normalised(spelling)
    with pytest.raises(ValidationError):
        _Typed(mime_type=spelling)


@pytest.mark.parametrize(
    "active",
    [
        "text/html",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "image/svg+xml",
        "application/rss+xml",
        "application/xslt+xml",
        "application/mathml+xml",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "application/x-shockwave-flash",
        "multipart/x-mixed-replace",
    ],
)
def test_active_content_is_denied_by_default(active: str) -> None:
    assert media_types.matches(media_types.normalised(active), media_types.ACTIVE_CONTENT)


@pytest.mark.parametrize("inert", ["image/png", "video/mp4", "application/pdf", "text/plain"])
def test_inert_types_are_not_active_content(inert: str) -> None:
    assert not media_types.matches(inert, media_types.ACTIVE_CONTENT)


@pytest.mark.parametrize(
    ("media_type", "disposition"),
    [
        ("image/jpeg", None),
        ("video/mp4", None),
        ("audio/mpeg", None),
        ("application/pdf", None),
        ("application/octet-stream", "attachment"),
        ("application/zip", "attachment"),
        ("text/csv", "attachment"),
        ("image/x-unknown", "attachment"),
    ],
)
def test_a_type_a_browser_would_not_just_show_is_served_as_a_download(
    media_type: str, disposition: str | None
) -> None:
    assert media_types.content_disposition(media_type) == disposition


def test_setting_patterns_are_checked_and_lower_cased() -> None:
    assert media_types.patterns(" Image/*, */*+XML ,application/pdf,") == [
        "image/*",
        "*/*+xml",
        "application/pdf",
    ]
    with pytest.raises(ValueError, match="text/html; x"):
        media_types.patterns("image/*, text/html; x")
    with pytest.raises(ValueError, match="html"):
        media_types.patterns("html")
