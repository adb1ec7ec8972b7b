"""Schemathesis hooks: generated bodies name the token's brand, so requests reach the services.

Loaded by the conformance test through SCHEMATHESIS_HOOKS. A brand id is replaced only when
the generated one is itself valid, so a case meant to break the schema stays broken.
"""

import re
from typing import Any

import schemathesis

from intake_contracts.fields import MAX_ID_LENGTH, NO_CONTROL_CHARACTERS

FIXED_BRAND = "fixed-brand"
_VALID_TEXT = re.compile(NO_CONTROL_CHARACTERS)


def _valid_brand(value: object) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= MAX_ID_LENGTH
        and bool(_VALID_TEXT.match(value))
    )


@schemathesis.hook
def map_body(_: Any, body: Any) -> Any:
    if isinstance(body, dict) and _valid_brand(body.get("brand_id")):
        return {**body, "brand_id": FIXED_BRAND}
    return body
