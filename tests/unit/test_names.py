"""Kafka names under a namespace: the broker's names carry it, the contracts' names do not."""

from collections.abc import Iterator

import pytest

from intake_contracts import topics
from intake_runtime.messaging import names
from intake_runtime.settings import ServiceSettings


@pytest.fixture
def restore_namespace() -> Iterator[None]:
    before = names.namespace()
    yield
    names.use_namespace(before)


@pytest.mark.usefixtures("restore_namespace")
def test_without_a_namespace_the_broker_sees_the_contracts_names() -> None:
    names.use_namespace("")

    assert names.topic(topics.UPLOAD_EVENTS) == "intake.uploads.events"
    assert names.group("intake-audit") == "intake-audit"
    assert names.logical("intake.uploads.events") == "intake.uploads.events"


@pytest.mark.usefixtures("restore_namespace")
def test_a_namespace_prefixes_topics_and_groups_and_comes_off_again() -> None:
    names.use_namespace("staging-2")

    physical = names.topic(topics.UPLOAD_EVENTS)

    assert physical == "staging-2.intake.uploads.events"
    assert names.group("intake-audit") == "staging-2.intake-audit"
    assert names.logical(physical) == topics.UPLOAD_EVENTS


@pytest.mark.usefixtures("restore_namespace")
@pytest.mark.parametrize("bad", ["Staging", "a.b", "-lead", "x" * 41, "sp ace", "new\nline"])
def test_a_namespace_that_would_make_odd_topic_names_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        names.use_namespace(bad)


def test_the_setting_refuses_a_bad_namespace_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_NAMESPACE", "Bad.Name")

    with pytest.raises(ValueError, match="INTAKE_NAMESPACE"):
        ServiceSettings()
