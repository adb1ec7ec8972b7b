"""Tenant ids, bucket names and bounded text fields (issue #10)."""

import pytest
from pydantic import ValidationError

from intake_contracts.commands import InitiateUpload
from intake_contracts.keys import (
    bucket_for,
    bucket_name_problem,
    is_valid_tenant_id,
    per_tenant_bucket_problem,
)


@pytest.mark.parametrize(
    "tenant_id",
    ["acme-", "acme\n", "-acme", "ac--me", "ACME", "a.b", "", "x" * 41, "foo-s3alias", "ac me"],
)
def test_tenant_ids_that_would_name_a_bad_bucket_are_refused(tenant_id: str) -> None:
    assert not is_valid_tenant_id(tenant_id)


@pytest.mark.parametrize("tenant_id", ["acme", "t-0a1b2c", "a", "x" * 40, "a1-b2-c3"])
def test_every_valid_tenant_id_names_a_valid_bucket(tenant_id: str) -> None:
    assert is_valid_tenant_id(tenant_id)
    assert bucket_name_problem(bucket_for("intake-uploads", "per_tenant", tenant_id)) is None


def test_a_base_bucket_too_long_for_per_tenant_names_is_reported() -> None:
    assert per_tenant_bucket_problem("b" * 22) is None
    problem = per_tenant_bucket_problem("b" * 23)
    assert problem is not None
    assert "at most 22" in problem
    assert bucket_name_problem("Bad_Bucket") is not None


def body(**changes: object) -> dict[str, object]:
    return {
        "file_name": "a.txt",
        "file_size": 1,
        "mime_type": "text/plain",
        "brand_id": "b",
        **changes,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("file_name", "a\r\nb.txt"),
        ("file_name", "\x1b[31mred.txt"),
        ("file_name", "invoice\u202etxt.exe"),
        ("file_name", "x\x85y"),
        ("client_reference", "ref\x00"),
        ("category_id", "cat\u2066"),
        ("brand_id", "b\x7f"),
        ("file_name", "n" * 256),
        ("client_reference", "r" * 256),
        ("idempotency_key", "k\n"),
    ],
)
def test_control_characters_and_overlong_text_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        InitiateUpload.model_validate(body(**{field: value}))


def test_file_names_are_nfc_normalised() -> None:
    assert InitiateUpload.model_validate(body(file_name="Cafe\u0301.txt")).file_name == "Café.txt"
