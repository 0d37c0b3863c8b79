"""KPIs: figures by period and dimension, and the orders behind each (docs/kpis.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import allow
from api.deps import MinPosition, RuntimeDep, to_json_ready, wait_for_position
from api.responses import json_response
from projections import kpi_queries
from projections.kpi_queries import KPIS

router = APIRouter(prefix="/kpis", tags=["kpis"])

KpiName = Literal[
    "cycle_time", "on_time_rate", "stage_time", "first_pass_yield", "complaint_rate",
    "order_value", "collection_rate", "dso",
]  # fmt: skip
Period = Literal["day", "week", "month"]
Dimension = Literal["all", "region", "salesperson", "product_line"]
assert set(get_args(KpiName)) == set(KPIS), "the route names every KPI the queries know"


@router.get("", dependencies=[allow("kpis:read")])
def kpi_figures(
    rt: RuntimeDep, kpi: KpiName, period: Period = "month", by: Dimension = "all",
    from_: Annotated[date | None, Query(alias="from")] = None, to: date | None = None,
    as_of: date | None = None,
    min_position: MinPosition = None,
) -> Response:  # fmt: skip
    """One KPI by period and dimension value: figure, numerator, denominator, order count."""
    wait_for_position(rt, min_position, "kpis", "receivables")
    on = as_of or datetime.now(UTC).date()
    with rt.store.read() as cur:
        rows = kpi_queries.kpi_figures(
            cur, kpi, period=period, by=by, start=from_, end=to, as_of=on
        )
    body = {"kpi": kpi, "period": period, "by": by, "as_of": on, "items": rows}
    return json_response(to_json_ready(body))


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
