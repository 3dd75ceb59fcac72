"""Logging: readable lines in development, one JSON object per line in production
(`LOG_FORMAT=json`, set by the Docker image). Every line logged while a search or a job runs
carries its `search_id` (and `job_id`, `attempt` inside a job), from a context variable, so a
search can be followed across the web and worker processes by one field.

    configure_logging("json")
    with log_context(search_id=str(sid)):
        logger.info("search done", extra={"duration_s": 1.2})
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

PLAIN = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
_context: ContextVar[dict[str, Any]] = ContextVar("log_context", default={})  # noqa: B039 - never mutated


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Adds `fields` to every line logged inside (tasks started inside inherit them)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class _WithContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


_TOKEN_IN_QUERY = re.compile(r"(access_token=)[^&\s\"]*")
_ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access")


class NoAccessTokens(logging.Filter):
    """Access tokens never reach the logs: the progress stream takes one in its query string
    (`?access_token=`, as EventSource cannot send headers), which access lines would show."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_QUERY.sub(r"\1***", record.msg)
        return True


def configure_logging(log_format: str) -> None:
    """Idempotent: the app factory may run more than once in a process."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
            json_ensure_ascii=False,
        ))
    else:
        handler.setFormatter(logging.Formatter(PLAIN))
    handler.addFilter(_WithContext())
    handler.addFilter(NoAccessTokens())
    for name in _ACCESS_LOGGERS:  # they may have handlers of their own (uvicorn's, gunicorn's)
        access = logging.getLogger(name)
        if not any(isinstance(f, NoAccessTokens) for f in access.filters):
            access.addFilter(NoAccessTokens())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    # ARQ's command gives its logger a handler of its own; through ours, its lines match the rest.
    logging.getLogger("arq").handlers = []
    logging.getLogger("arq").propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per PNCP page is noise
