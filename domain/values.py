"""Value helpers: exact quantities and money, deterministic ids, command metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.currencies import ISO_4217
from domain.exceptions import InvalidInput

NAMESPACE = uuid5(NAMESPACE_URL, "https://orderledger.dev/ids")

# Upper bounds that keep every figure exact in NUMERIC(28, 6) and catch fat-finger input.
MAX_QUANTITY = Decimal("1000000000000")  # 10^12 units
MAX_AMOUNT = Decimal("1000000000000000")  # 10^15 currency units
QUANTITY_PLACES = 6
MONEY_PLACES = 4
ZERO = Decimal(0)

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
# Free text may hold tabs and line breaks, never other control characters (NUL breaks stores).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@lru_cache(maxsize=65_536)
def stable_id(kind: str, *parts: str) -> UUID:
    """A deterministic id: creating the same thing twice conflicts instead of duplicating.
    Cached: the same SKUs, warehouses and stock items are named by every command."""
    return uuid5(NAMESPACE, ":".join((kind, *parts)))


def new_ref(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:12].upper()}"


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool | float):
        raise InvalidInput(f"{what} must be an exact decimal (a string or integer), not {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise InvalidInput(f"{what} must be finite, got {value!r}")
    return number


def _check_places(number: Decimal, places: int, what: str) -> None:
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise InvalidInput(f"{what} has more than {places} decimal places: {number}")


def quantity(value: Any, what: str = "quantity") -> Decimal:
    """A strictly positive quantity with at most six decimal places."""
    number = _decimal(value, what)
    if number <= 0:
        raise InvalidInput(f"{what} must be greater than zero, got {number}")
    return _bounded(number, what)


def non_negative_quantity(value: Any, what: str = "quantity") -> Decimal:
    number = _decimal(value, what)
    if number < 0:
        raise InvalidInput(f"{what} must not be negative, got {number}")
    return _bounded(number, what)


def _bounded(number: Decimal, what: str) -> Decimal:
    if number > MAX_QUANTITY:
        raise InvalidInput(f"{what} is larger than the maximum {MAX_QUANTITY}: {number}")
    _check_places(number, QUANTITY_PLACES, what)
    return number + ZERO  # normalises -0 to 0


def money(value: Any, what: str = "amount") -> Decimal:
    """A non-negative amount with at most four decimal places."""
    number = _decimal(value, what)
    if number < 0:
        raise InvalidInput(f"{what} must not be negative, got {number}")
    if number > MAX_AMOUNT:
        raise InvalidInput(f"{what} is larger than the maximum {MAX_AMOUNT}: {number}")
    _check_places(number, MONEY_PLACES, what)
    return number + ZERO


# ISO 4217 minor units where they differ from 2.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3,
               "JOD": 3, "TND": 3, "IQD": 3, "LYD": 3}  # fmt: skip


def price(value: Any, currency_code: str, what: str = "unit_price") -> Decimal:
    """A non-negative amount with no more decimals than the currency has."""
    amount = money(value, what)
    places = MINOR_UNITS.get(currency_code, 2)
    _check_places(amount, places, f"{what} in {currency_code}")
    return amount


def fraction(value: Any, what: str) -> Decimal:
    """A fraction from 0 up to (not including) 1, e.g. a 5 % discount as 0.05."""
    number = _decimal(value, what)
    if not ZERO <= number < 1:
        raise InvalidInput(f"{what} must be a fraction from 0 up to 1 (0.05 = 5%), got {number}")
    _check_places(number, QUANTITY_PLACES, what)
    return number + ZERO


def code(value: Any, what: str) -> str:
    """An identifier-like code: SKU, warehouse code, document number."""
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise InvalidInput(
            f"{what} must be 1-64 letters, digits or . _ - (starting with a letter or digit),"
            f" got {value!r}"
        )
    return value


def line_number(value: Any) -> int:
    """A PO line number: a whole number given as an integer or a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise InvalidInput(f"line numbers are whole numbers, got {value!r}")
    if not 1 <= number <= 10_000:
        raise InvalidInput(f"line number {number} is out of range")
    return number


def text(value: Any, what: str, *, max_length: int = 200, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    if _CONTROL.search(value):
        raise InvalidInput(f"{what} must not contain control characters")
    return value


def currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidInput(f"currency must be an ISO 4217 code such as EUR, got {value!r}")
    if value not in ISO_4217:
        raise InvalidInput(f"currency {value!r} is not an ISO 4217 code")
    return value


def aware(value: datetime, what: str = "effective_at") -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"{what} must carry a time zone offset")
    return value


@dataclass(frozen=True)
class Meta:
    """Who issued a command and why: stamped on every event the command records."""

    actor: str
    correlation_id: str
    command: str
    at: datetime
    causation_id: str | None = None
    role: str | None = None  # the role the actor acts in (approvals, manual transitions)
    extra: dict[str, str] = field(default_factory=dict)

    def effective(self, effective_at: datetime | None) -> datetime:
        """The business time a command's movements count from: the one given (it must carry
        a time zone), else the command's own time."""
        return self.at if effective_at is None else aware(effective_at)

    def as_dict(self) -> dict[str, Any]:
        stamped: dict[str, Any] = {
            "actor": self.actor,
            "correlation_id": self.correlation_id,
            "command": self.command,
        }
        if self.causation_id:
            stamped["causation_id"] = self.causation_id
        if self.role:
            stamped["role"] = self.role
        stamped.update(self.extra)
        return stamped
