"""KPIs: figures by period and dimension, and the orders behind each (docs/kpis.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import allow
from api.deps import MinPosition, RuntimeDep, to_json_ready, wait_for_position
from api.exports import ListingDep
from api.responses import json_response
from projections import kpi_queries, late_orders
from projections.kpi_queries import KPIS

router = APIRouter(prefix="/kpis", tags=["kpis"])

KpiName = Literal[
    "cycle_time", "on_time_rate", "stage_time", "first_pass_yield", "complaint_rate",
    "order_value", "collection_rate", "dso",
]  # fmt: skip
Period = Literal["day", "week", "month"]
Dimension = Literal["all", "region", "salesperson", "product_line"]
LateReason = Literal[
    "credit_hold", "approval", "production", "partly_shipped", "in_transit", "none"
]
assert set(get_args(KpiName)) == set(KPIS), "the route names every KPI the queries know"
assert get_args(LateReason) == late_orders.REASONS


@router.get("", dependencies=[allow("kpis:read")])
def kpi_figures(
    rt: RuntimeDep, listing: ListingDep, kpi: KpiName, period: Period = "month",
    by: Dimension = "all",
    from_: Annotated[date | None, Query(alias="from")] = None, to: date | None = None,
    as_of: date | None = None,
    min_position: MinPosition = None,
) -> Response:  # fmt: skip
    """One KPI by period and dimension value: figure, numerator, denominator, order count
    (`format=csv|xlsx`: those rows as a file)."""
    wait_for_position(rt, min_position, "kpis", "receivables")
    on = as_of or datetime.now(UTC).date()

    def read() -> dict[str, Any]:
        with rt.store.read() as cur:
            rows = kpi_queries.kpi_figures(
                cur, kpi, period=period, by=by, start=from_, end=to, as_of=on
            )
        return to_json_ready({"kpi": kpi, "period": period, "by": by, "as_of": on, "items": rows})

    return listing.whole(f"kpi-{kpi}", read)


@router.get("/late", dependencies=[allow("kpis:read")])
def late_pivot(rt: RuntimeDep, min_position: MinPosition = None) -> Response:
    """Orders late in their stage now, counted by stage and by what holds them (credit hold,
    approval, production, partly shipped, in transit, or nothing recorded)."""
    wait_for_position(rt, min_position, "orders", "credit", "production")
    now = datetime.now(UTC)
    with rt.store.read() as cur:
        rows = late_orders.late_pivot(cur, now=now)
    return json_response({"as_of": now, "items": rows})


@router.get("/late/orders", dependencies=[allow("kpis:read")])
def late_list(
    rt: RuntimeDep, stage: str | None = None, reason: LateReason | None = None,
    min_position: MinPosition = None,
) -> Response:  # fmt: skip
    """The late orders behind one cell of the late pivot (a stage, a reason, or both),
    most overdue first."""
    wait_for_position(rt, min_position, "orders", "credit", "production")
    now = datetime.now(UTC)
    with rt.store.read() as cur:
        rows = late_orders.late_orders(cur, now=now, stage=stage, reason=reason)
    return json_response({"as_of": now, "stage": stage, "reason": reason,
                          "orders": [row["number"] for row in rows]})  # fmt: skip


@router.get("/{kpi}/orders", dependencies=[allow("kpis:read")])
def kpi_orders(
    rt: RuntimeDep, kpi: KpiName, period_start: date, period: Period = "month",
    by: Dimension = "all", value: str = "all", key: str | None = None,
    as_of: date | None = None, min_position: MinPosition = None,
) -> Response:  # fmt: skip
    """The orders counted in one figure (the same period, dimension value and stage/currency)."""
    wait_for_position(rt, min_position, "kpis", "receivables")
    on = as_of or datetime.now(UTC).date()
    with rt.store.read() as cur:
        numbers = kpi_queries.kpi_orders(
            cur, kpi, period=period, period_start_=period_start, by=by, value=value, key=key,
            as_of=on,
        )  # fmt: skip
    return json_response(
        to_json_ready(
            {
                "kpi": kpi,
                "period_start": period_start,
                "by": by,
                "value": value,
                "key": key,
                "orders": numbers,
            }
        )
    )
