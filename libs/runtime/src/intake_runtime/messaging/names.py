"""Kafka names as the broker sees them: the contracts' topic and group names under this
deployment's namespace (`INTAKE_NAMESPACE`), so that any number of systems share one Kafka.

The namespace is deployment, not domain: contracts, events and the events the audit service
recorded keep the logical names, and only the Kafka boundary (subscribe, publish, provisioning)
applies the prefix. It is set once per process at start-up, before any client connects.
"""

import re
from typing import Final

NAMESPACE_PATTERN: Final = r"^([a-z0-9][a-z0-9-]{0,39})?$"
_SEPARATOR: Final = "."
_namespace = ""


def use_namespace(namespace: str) -> None:
    global _namespace  # noqa: PLW0603 - one process-wide deployment fact, set once at start-up
    if not re.fullmatch(NAMESPACE_PATTERN, namespace):
        raise ValueError(f"namespace {namespace!r} does not match {NAMESPACE_PATTERN}")
    _namespace = namespace


def namespace() -> str:
    return _namespace


def topic(logical: str) -> str:
    return f"{_namespace}{_SEPARATOR}{logical}" if _namespace else logical


def group(logical: str) -> str:
    return topic(logical)


def logical(physical: str) -> str:
    """The contracts' name of a topic read from the broker."""
    prefix = f"{_namespace}{_SEPARATOR}"
    return physical.removeprefix(prefix) if _namespace else physical
