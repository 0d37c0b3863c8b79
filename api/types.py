"""Request field types: exact decimals never pass through binary floating point."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

_DECIMAL = re.compile(r"^-?\d{1,18}(\.\d{1,6})?$")


def _exact(value: Any) -> Decimal:
    if isinstance(value, bool | float):
        raise ValueError(
            'must be an exact decimal given as a string ("12.5") or an integer, not a JSON float'
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL.match(value.strip()):
        return Decimal(value.strip())
    raise ValueError(f'must be a decimal number such as "12.5" (at most 6 decimals), got {value!r}')


ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_exact),
    WithJsonSchema({"type": "string", "pattern": _DECIMAL.pattern, "examples": ["12.5"]}),
]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone offset, e.g. 2026-11-25T09:00:00+00:00")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=CODE_PATTERN)]
# The same rule for path and query parameters: odd bytes are answered 422, never passed on.
CodePath = Annotated[str, Path(min_length=1, max_length=64, pattern=CODE_PATTERN)]
CodeQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=CODE_PATTERN)]
MAX_POSITION = 2**63 - 1
# A page's cursor is a log position: beyond a 64-bit integer no store can compare it.
PositionCursor = Annotated[
    int | None, Query(ge=0, le=MAX_POSITION, description="next_cursor of a previous page")
]
