"""JSON logs, one line per event, carrying the trace id and the tenant and session in scope."""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

tenant_in_scope: ContextVar[str | None] = ContextVar("tenant_in_scope", default=None)
session_in_scope: ContextVar[str | None] = ContextVar("session_in_scope", default=None)

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            line["trace_id"] = format(span_context.trace_id, "032x")
            line["span_id"] = format(span_context.span_id, "016x")
        if (tenant := tenant_in_scope.get()) is not None:
            line["tenant_id"] = tenant
        if (session := session_in_scope.get()) is not None:
            line["upload_session_id"] = session
        line.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """One JSON handler on stderr, at the root; every other logger only propagates to it.

    Call before building web apps or brokers. A framework that configures logging itself
    afterwards (Litestar's default `logging_config`) must be told not to.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    route_to_root()
    for noisy in ("aiokafka", "botocore", "aiobotocore", "faststream"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def route_to_root() -> None:
    """Strip the handlers libraries installed on their own loggers, so nothing bypasses JSON.

    FastStream gives its `faststream` logger a colourised stdout handler at import, and
    uvicorn's loggers may carry handlers; any of them would print lines no log shipper parses.
    """
    for name in list(logging.root.manager.loggerDict):
        logger = logging.root.manager.loggerDict[name]
        if isinstance(logger, logging.Logger):
            logger.handlers.clear()
            logger.propagate = True
