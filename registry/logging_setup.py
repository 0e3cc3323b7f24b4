"""Logging as distribution does it: to stdout, its levels, text or JSON lines, optional extra fields.

Two loggers are emitted whatever ``log.level`` says: the access log (one
line per request, as in distribution switched off only by
``log.accesslog.disabled``, which the server honours by not attaching it) and ``registry.startup`` (the listening address and the
config's warnings, which an operator must see even at level ``error``).
Request headers other than ``User-Agent`` are never logged, so credentials
in ``Authorization`` stay out of the logs, and so do query parameters that
look like secrets (``AccessLogger`` masks them).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import datetime, timezone

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from .config import LogConfig

ACCESS_LOGGER = "aiohttp.access"
STARTUP_LOGGER = "registry.startup"

SECRET_PARAMETERS = frozenset({"password", "refresh_token", "access_token", "token",
                               "client_secret"})
"""Query parameters whose values never reach the log, should a client put a secret there."""


class AccessLogger(AbstractAccessLogger):
    """One line per request: remote address, request line, status, response bytes, seconds
    taken, client; the values of ``SECRET_PARAMETERS`` in the query string are masked."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        url = request.rel_url
        if any(name.lower() in SECRET_PARAMETERS for name in url.query):
            url = url.with_query([(name, "***" if name.lower() in SECRET_PARAMETERS else value)
                                  for name, value in url.query.items()])
        version = request.version
        self.logger.info('%s "%s %s HTTP/%d.%d" %d %d %.6fs "%s"', request.remote,
                         request.method, url.path_qs, version.major, version.minor,
                         response.status, response.body_length, time,
                         request.headers.get("User-Agent", "-"))


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")


class _TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>[<pid>] <field>=<value>...: <message>``, pid because workers share stdout."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        extra = "".join(f" {key}={value}" for key, value in fields.items()).replace("%", "%%")
        super().__init__(f"%(asctime)s %(levelname)s %(name)s[%(process)d]{extra}: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _timestamp(record)


class _JSONFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (distribution's ``json`` and ``logstash``)."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__()
        self.fields = dict(fields)

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": _timestamp(record), "level": record.levelname.lower(),
                 "logger": record.name, "pid": record.process, "msg": record.getMessage(),
                 **self.fields}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(config: LogConfig) -> None:
    """Send every record to stdout in the configured format; replaces earlier configuration."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = _TextFormatter if config.formatter == "text" else _JSONFormatter
    handler.setFormatter(formatter(config.fields))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level)
    for always_shown in (STARTUP_LOGGER, ACCESS_LOGGER):
        logging.getLogger(always_shown).setLevel(logging.INFO)
