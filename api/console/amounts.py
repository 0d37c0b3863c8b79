"""How the inventory and finance pages write numbers and moments.

Each figure is shown whole: a quantity with the places it has, an amount with at least its
currency's minor unit and never fewer places than it has, so a page never rounds what the
API answers. Cells also carry the API's own text (`plain`) in `data-value`, for scripts and
tests that compare the two.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from api.responses import plain_decimal
from domain.values import MINOR_UNITS

NOTHING = "—"


def plain(value: Any) -> str:
    """The API's text for a decimal ('12.5', '0')."""
    return plain_decimal(Decimal(value))


def quantity(value: Any) -> str:
    """1234.500000 → '1,234.5'."""
    return format(Decimal(plain(value)), ",f")


def money(value: Any, currency: str | None = None) -> str:
    """1234.5 EUR → '1,234.50'; 0.1234 EUR keeps its four places; JPY has none."""
    if value is None:
        return NOTHING
    exact = Decimal(plain(value))
    places = max(MINOR_UNITS.get(currency or "", 2), -min(0, _exponent(exact)))
    return format(exact.quantize(Decimal(1).scaleb(-places)), ",f")


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def moment(value: Any) -> str:
    """A stored time (datetime on PostgreSQL, ISO text on SQLite) in UTC, to the minute."""
    if value is None or value == "":
        return NOTHING
    found = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return found.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def day(value: Any) -> str:
    if value is None or value == "":
        return NOTHING
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)[:10]
