"""No secrets or personal data in the server's logs.

uvicorn's access log writes each request's full path and query string; queries may carry
customers' names or e-mail addresses, so the access log keeps a query's parameter names but
only the values of parameters known to be harmless (positions, dates, page sizes). Every
record, from any logger and its traceback included, then has credentials (bearer tokens, API
keys `olk_…`, passwords in URLs, secret-named parameters) and e-mail addresses masked.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

REDACTED = "[redacted]"
# Query parameters whose values are positions, times, sizes or codes: never personal.
PLAIN_PARAMETERS = frozenset({
    "after", "limit", "min_position", "position", "to_position", "at", "as_of", "from",
    "to", "effective", "currency", "kind", "type", "model", "within_hours", "until_terminal",
})  # fmt: skip
SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"\bolk_[\w-]+"), f"olk_{REDACTED}"),
    # A password in a URL's user part: postgresql://user:secret@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@"), rf"\1{REDACTED}@"),
    (
        re.compile(
            r"(?i)\b((?:x-)?api[_-]?key|(?:access|refresh)[_-]?token|token|secret|client_secret"
            r"|password|passwd|authorization|cookie|set-cookie)(\"?\s*[=:]\s*\"?)[^\s&\"',;]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    # An e-mail address, also as uvicorn's access log writes it in a path (@ as %40).
    (
        re.compile(r"\b[\w.%+-]+(?:@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b"),
        r"[email]@\1",
    ),
)


def redact(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


def private_target(target: str) -> str:
    """A request target with the values of all but the plain query parameters masked."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    kept = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        kept.append(pair if name in PLAIN_PARAMETERS or not equals else f"{name}={REDACTED}")
    return f"{path}?{'&'.join(kept)}"


class AccessLogPrivacy(logging.Filter):
    """For uvicorn's access records: (client, method, target, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], private_target(args[2]), *args[3:])
        return True


class RedactSecrets(logging.Filter):
    """Masks credentials and e-mail addresses in a record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        if isinstance(record.msg, str) and not record.args:
            record.msg = redact(record.msg)
        elif record.name != "uvicorn.access":  # its formatter needs its arguments apart
            self._join_if_secret(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

    @staticmethod
    def _join_if_secret(record: logging.LogRecord) -> None:
        """A secret split between the format and its arguments ("token=%s")."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken call: logging reports it when it formats
            return
        if redact(message) != message:
            record.msg, record.args = redact(message), ()


def logging_config() -> dict[str, Any]:
    """uvicorn's logging set-up, with both filters on its handlers, and its stderr handler
    also on the root logger, so that the application's own warnings pass the filter too."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"secrets": {"()": RedactSecrets}, "access": {"()": AccessLogPrivacy}}
    config["handlers"]["default"]["filters"] = ["secrets"]
    config["handlers"]["access"]["filters"] = ["access", "secrets"]
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config
