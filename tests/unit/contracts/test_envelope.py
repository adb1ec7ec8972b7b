"""The brand rule every service shares, on the principal."""

import pytest

from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode

USER = Principal(user_id="u", tenant_id="t", brand_ids=("b1",))


def test_a_user_acts_only_in_the_brands_of_their_token() -> None:
    USER.require_brand("b1")
    with pytest.raises(DomainError) as refused:
        USER.require_brand("b2")
    assert refused.value.code == ErrorCode.BRAND_NOT_ALLOWED


def test_a_service_vouching_for_a_command_acts_for_the_whole_tenant() -> None:
    USER.model_copy(update={"service": "cleanup"}).require_brand("b2")
