"""The orders behind a dashboard figure: a KPI's period × dimension value (× key), exactly
as `GET /kpis/{kpi}/orders` lists them, or a cell of the late-orders pivot, exactly as
`GET /kpis/late/orders` does; a hundred to a page, each a link to its order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.console import dashboard_charts as charts
from api.console.web import PageRefused, Viewer, page, render
from api.deps import RuntimeDep
from domain.exceptions import InvalidInput
from projections import kpi_queries, late_orders
from projections.kpi_queries import DIMENSIONS, KPIS, PERIODS

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_ROWS = 100
BACK = ("period", "from", "to", "by", "focus")  # the dashboard's controls


@router.get("/dashboard/orders")
def figure_orders(
    request: Request, rt: RuntimeDep, viewer: Annotated[Viewer, page("kpis:read")],
    kpi: str | None = None, period: str = "month", period_start: str | None = None,
    by: str = "all", value: str = "all", key: str | None = None, as_of: str | None = None,
    late: str | None = None, stage: str | None = None, reason: str | None = None,
    back: str = "", number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:  # fmt: skip
    """The orders counted in one figure of the dashboard."""
    if late:
        return _late(rt, viewer, stage or None, reason or None, number, back)
    begins, on = _date(period_start), _date(as_of) or datetime.now(UTC).date()
    if kpi not in KPIS or period not in PERIODS or by not in DIMENSIONS or begins is None:
        raise PageRefused(404, viewer.t("Not found"), viewer.t("No such figure."))
    asked = {"period": period, "period_start": begins.isoformat(), "by": by, "value": value,
             **({"key": key} if key else {}), **({"as_of": as_of} if as_of else {})}  # fmt: skip
    with rt.store.read() as cur:
        try:
            numbers = kpi_queries.kpi_orders(cur, kpi, period=period, period_start_=begins, by=by,
                                             value=value, key=key or None, as_of=on)  # fmt: skip
        except InvalidInput:
            raise PageRefused(404, viewer.t("Not found"), viewer.t("No such figure.")) from None
        ends = kpi_queries.period_end(begins, period)
        rows = kpi_queries.kpi_figures(cur, kpi, period=period, by=by, start=begins, end=ends,
                                       as_of=on)  # fmt: skip
        shown = numbers[(number - 1) * PAGE_ROWS : number * PAGE_ROWS]
        details = kpi_queries.order_details(cur, shown)
    figure = next((r for r in rows if r["value"] == value and r["key"] == (key or None)), None)
    return render(
        viewer, "dashboard/orders.html", kind="kpi", kpi=kpi, period=period, begins=begins,
        by=by, value=value, key=key, figure=charts.shown(figure, viewer.t) if figure else None,
        total=len(numbers), rows=[_detail(d) for d in details],
        pager=_pager(request, number, len(numbers)), back=_back(back),
        api=f"/kpis/{kpi}/orders?{urlencode(asked)}", labels=charts.labels(viewer.t),
    )  # fmt: skip


def _late(rt: RuntimeDep, viewer: Viewer, stage: str | None, reason: str | None, number: int,
          back: str) -> Response:  # fmt: skip
    if reason is not None and reason not in late_orders.REASONS:
        raise PageRefused(404, viewer.t("Not found"), viewer.t("No such figure."))
    now = datetime.now(UTC)
    with rt.store.read() as cur:
        every = late_orders.late_orders(cur, now=now, stage=stage, reason=reason)
    shown = every[(number - 1) * PAGE_ROWS : number * PAGE_ROWS]
    for row in shown:
        due = _moment(row["sla_due_at"])
        row["overdue_hours"] = f"{(now - due).total_seconds() / 3600:,.1f}"
        row["due"] = due.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        row["value"] = f"{Decimal(row['total']):,.2f}"
    asked = {**({"stage": stage} if stage else {}), **({"reason": reason} if reason else {})}
    return render(
        viewer, "dashboard/orders.html", kind="late", stage=stage, reason=reason,
        total=len(every), rows=shown, as_of=now,
        pager=_pager_late(asked, number, len(every), back), back=_back(back),
        api=f"/kpis/late/orders?{urlencode(asked)}", labels=charts.labels(viewer.t),
    )  # fmt: skip


def _detail(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "taken": _moment(row["taken_at"]).astimezone(UTC).date().isoformat(),
        "delivered": (_moment(row["delivered_at"]).astimezone(UTC).date().isoformat()
                      if row["delivered_at"] is not None else None),
        "value": f"{row['total']:,.2f}",
    }  # fmt: skip


def _moment(value: Any) -> datetime:
    """PostgreSQL returns datetimes, SQLite ISO text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _back(query: str) -> str:
    """Back to the dashboard as it was: its controls, and nothing else, from `back`."""
    kept = {k: v[:40] for k, v in parse_qsl(query) if k in BACK}
    return "/console/dashboard" + (f"?{urlencode(kept)}" if kept else "")


def _pager(request: Request, number: int, total: int) -> dict[str, str | None]:
    return _pages(dict(request.query_params), number, total)


def _pager_late(asked: dict[str, str], number: int, total: int,
                back: str) -> dict[str, str | None]:  # fmt: skip
    return _pages({"late": "1", **asked, **({"back": back} if back else {})}, number, total)


def _pages(params: dict[str, str], number: int, total: int) -> dict[str, str | None]:
    def at(n: int) -> str:
        return "/console/dashboard/orders?" + urlencode({**params, "page": str(n)})

    last = max(1, -(-total // PAGE_ROWS))
    return {
        "previous": at(number - 1) if number > 1 else None,
        "next": at(number + 1) if number < last else None,
        "first_row": str(min(total, (number - 1) * PAGE_ROWS + 1)),
        "last_row": str(min(total, number * PAGE_ROWS)),
    }
