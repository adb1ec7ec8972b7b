"""The status sets the services' SQL is written from: one spelling, the domain's."""

from intake_contracts.sessions import LIVE_STATUSES, TERMINAL_STATUSES, UploadStatus, sql_list


def test_every_status_is_live_or_terminal_never_both() -> None:
    assert set(UploadStatus) == LIVE_STATUSES | TERMINAL_STATUSES
    assert not LIVE_STATUSES & TERMINAL_STATUSES


def test_a_status_set_is_spelled_in_declaration_order_as_the_partial_indexes_name_it() -> None:
    assert sql_list(TERMINAL_STATUSES) == "('COMPLETED', 'FAILED', 'CANCELLED')"
    assert sql_list(LIVE_STATUSES) == "('INITIATING', 'UPLOADING')"
