"""Accounts receivable as of any date: ageing buckets and collection metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import allow
from api.deps import MinPosition, RuntimeDep, wait_for_position
from api.errors import ApiError
from api.exports import ListingDep
from api.types import CodeQuery
from projections import ar

router = APIRouter(prefix="/ar", tags=["receivables"])

CurrencyQuery = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$", description="e.g. EUR")]
DEFAULT_PERIOD_DAYS = 30


def _today() -> date:
    return datetime.now(UTC).date()


@router.get("/ageing", dependencies=[allow("finance:read")])
def get_ageing(
    rt: RuntimeDep,
    listing: ListingDep,
    as_of: Annotated[date | None, Query(description="Business day (default: today)")] = None,
    customer: CodeQuery = None,
    currency: CurrencyQuery = None,
    min_position: MinPosition = None,
) -> Response:
    """Open amounts by days past due (not due, 1–30, 31–60, 61–90, over 90) as of the end of
    a day, per customer and currency, with totals per currency and the open-items total of
    the same day (always equal to the ageing total)."""
    wait_for_position(rt, min_position, "receivables")

    def read() -> dict[str, Any]:
        with rt.store.read() as cur:
            return ar.ageing(cur, as_of=as_of or _today(), customer=customer, currency=currency)

    # a file: one row per customer and currency, the buckets as its columns
    return listing.whole("ageing", read, items="customers")


@router.get("/metrics", dependencies=[allow("finance:read")])
def get_metrics(
    rt: RuntimeDep,
    listing: ListingDep,
    start: Annotated[
        date | None, Query(alias="from", description="First day (default: 29 days before `to`)")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (default: today)")] = None,
    customer: CodeQuery = None,
    min_position: MinPosition = None,
) -> Response:
    """Collection rate, DSO, average days to pay and days late, overdue count and amount for
    a period (both days included), per customer and overall, per currency (`format=csv|xlsx`:
    one row per currency for all customers, then one per customer and currency)."""
    last = end or _today()
    first = start or date.fromordinal(max(1, last.toordinal() - DEFAULT_PERIOD_DAYS + 1))
    if first > last:
        raise ApiError(422, f"from ({first}) must not be after to ({last})", "invalid-period")
    wait_for_position(rt, min_position, "receivables")

    def read() -> dict[str, Any]:
        with rt.store.read() as cur:
            report = ar.metrics(cur, start=first, end=last, customer=customer)
        return report if listing.format == "json" else {"rows": _metrics_rows(report)}

    return listing.whole("ar-metrics", read, items="rows")


def _metrics_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report flattened for a file: all customers' figures per currency (customer
    empty), then each customer's per currency."""
    scopes = [(None, report["currencies"])]
    scopes += [(entry["customer"], entry["currencies"]) for entry in report["customers"]]
    return [
        {"customer": who, "currency": currency, "from": report["from"], "to": report["to"],
         **figures}
        for who, currencies in scopes
        for currency, figures in currencies.items()
    ]  # fmt: skip
