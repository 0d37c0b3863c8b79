"""JSON and problem+json responses rendered with orjson."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response


def plain_decimal(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros (NUMERIC(28,6) → '60')."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain_decimal(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        dumps(content), status_code=status, headers=headers, media_type="application/json"
    )


def problem(
    status: int,
    title: str,
    detail: str,
    rule: str,
    request: Request,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {
        "type": f"https://orderledger.dev/problems/{rule}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "rule": rule,
        **extra,
    }
    return Response(
        dumps(body), status_code=status, headers=headers, media_type="application/problem+json"
    )


def iso(value: Any) -> Any:
    """Read models return datetimes (PostgreSQL) or ISO text (SQLite): answer ISO text."""
    return value.isoformat() if isinstance(value, datetime) else value
