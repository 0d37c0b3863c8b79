"""The dashboard: the decision KPIs of a period, their trend, who and what drives them, and
the orders late now — every figure a link to the orders behind it.

Controls are a plain GET form: the period (day, week, month), the window (`from`, `to`,
widened to whole periods so that each point is a whole-period figure, exactly what
`GET /kpis/{kpi}/orders` drills into), the dimension the trends are split by, and the focus
period the headline cards, the product-line shares and the leaderboards are for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.console import dashboard_charts as charts
from api.console.i18n import Translate
from api.console.web import Viewer, page, render
from api.deps import RuntimeDep
from projections import late_orders
from projections.kpi_queries import (
    DIMENSIONS,
    PERIODS,
    kpi_figures,
    kpi_figures_of,
    period_end,
    period_start,
)
from projections.store import Cursor

router = APIRouter(prefix="/console", include_in_schema=False)

# The headline cards: the five the KPI read model keeps totals of, then the two made of
# receivables.
HEADLINE = ("order_value", "on_time_rate", "cycle_time", "first_pass_yield", "complaint_rate",
            "collection_rate", "dso")  # fmt: skip
SHOWN_PERIODS = {"day": 31, "week": 13, "month": 12}  # the default window
MAX_PERIODS = 120


@dataclass(frozen=True)
class Controls:
    """What the form asked for, made whole: a window of whole periods and a focus in it."""

    period: str
    start: date
    end: date
    by: str
    focus: date
    periods: list[date]  # the window's period starts, oldest first
    narrowed: bool  # the window asked for was longer than MAX_PERIODS

    @property
    def previous(self) -> date:
        return period_start(self.focus - timedelta(days=1), self.period)

    def query(self) -> str:
        """The dashboard's address query for these controls."""
        return urlencode({
            "period": self.period, "from": self.start.isoformat(), "to": self.end.isoformat(),
            "by": self.by, "focus": self.focus.isoformat(),
        })  # fmt: skip


def controls(period: str | None, start: str | None, end: str | None, by: str | None,
             focus: str | None, today: date) -> Controls:  # fmt: skip
    """The form's values, defaulted and made whole; nonsense is ignored, not an error."""
    chosen = period if period in PERIODS else "month"
    last = period_end(period_start(_day(end) or today, chosen), chosen)
    first = period_start(_day(start) or _back(last, chosen, SHOWN_PERIODS[chosen] - 1), chosen)
    if first > last:
        first, last = period_start(last, chosen), period_end(period_start(first, chosen), chosen)
    periods = _periods(first, last, chosen)
    narrowed = len(periods) > MAX_PERIODS
    if narrowed:
        periods = periods[-MAX_PERIODS:]
        first = periods[0]
    wanted = _day(focus)
    aimed = period_start(wanted, chosen) if wanted else None
    return Controls(chosen, first, last, by if by in DIMENSIONS else "all",
                    aimed if aimed in periods else periods[-1], periods, narrowed)  # fmt: skip


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _back(day: date, period: str, count: int) -> date:
    begins = period_start(day, period)
    for _ in range(count):
        begins = period_start(begins - timedelta(days=1), period)
    return begins


def _periods(first: date, last: date, period: str) -> list[date]:
    found, begins = [], period_start(first, period)
    while begins <= last:
        found.append(begins)
        begins = period_end(begins, period) + timedelta(days=1)
    return found


@router.get("/dashboard")
def dashboard_page(
    rt: RuntimeDep, viewer: Annotated[Viewer, page("kpis:read")],
    period: str | None = None, from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None, by: str | None = None, focus: str | None = None,
) -> Response:  # fmt: skip
    """The decision dashboard of a window of periods."""
    now = datetime.now(UTC)
    asked = controls(period, from_, to, by, focus, now.date())
    with rt.store.read() as cur:
        shown = _figures(cur, viewer, asked, now)
    return render(viewer, "dashboard/page.html", asked=asked, **shown,
                  labels=charts.labels(viewer.t), api=_api_links(asked))  # fmt: skip


def _figures(cur: Cursor, viewer: Viewer, asked: Controls, now: datetime) -> dict[str, Any]:
    t, today = viewer.t, now.date()
    links = charts.Links(asked.query())
    focus_end = period_end(asked.focus, asked.period)

    def figures(kpi: str, by: str, start: date, end: date) -> list[dict[str, Any]]:
        return kpi_figures(cur, kpi, period=asked.period, by=by, start=start, end=end,
                           as_of=today)  # fmt: skip

    headline = kpi_figures_of(cur, HEADLINE[:5], period=asked.period, by="all",
                              start=asked.previous, end=focus_end, as_of=today)  # fmt: skip
    # Collection rate and DSO read every receivable invoiced in the period (they depend on
    # today's date): the focus period's only, without the one before it.
    headline.update(kpi_figures_of(cur, HEADLINE[5:], period=asked.period, by="all",
                                   start=asked.focus, end=focus_end, as_of=today))  # fmt: skip
    value = figures("order_value", asked.by, asked.start, asked.end)
    on_time = figures("on_time_rate", asked.by, asked.start, asked.end)
    lines = figures("order_value", "product_line", asked.focus, focus_end)
    people = figures("order_value", "salesperson", asked.focus, focus_end)
    stages = figures("stage_time", "all", asked.focus, focus_end)
    return {
        "links": links,
        "cards": charts.cards(t, links, headline, asked.period, asked.focus, asked.previous),
        "value_chart": charts.trend(
            t, links, value, kpi="order_value", period=asked.period, by=asked.by, percent=False
        ),
        "on_time_chart": charts.trend(
            t, links, on_time, kpi="on_time_rate", period=asked.period, by=asked.by, percent=True
        ),
        "shares": charts.shares(t, links, lines, period=asked.period),
        "salespeople": [
            (currency, _board(t, links, [r for r in people if r["key"] == currency], asked.period))
            for currency in sorted({r["key"] for r in people})
        ],
        "stages": charts.leaders(
            t, links, stages, period=asked.period, by="all", kpi="stage_time", fastest=True
        ),
        "late": charts.pivot(late_orders.late_pivot(cur, now=now)),
        "late_as_of": now,
    }


def _board(t: Translate, links: charts.Links, rows: list[dict[str, Any]],
           period: str) -> list[dict[str, Any]]:  # fmt: skip
    return charts.leaders(t, links, rows, period=period, by="salesperson", kpi="order_value")


def _api_links(asked: Controls) -> dict[str, str]:
    """The same figures from the API, as files (GET with the session cookie)."""
    window = {"period": asked.period, "by": asked.by, "from": asked.start.isoformat(),
              "to": asked.end.isoformat()}  # fmt: skip
    return {
        f"{kpi}_{kind}": "/kpis?" + urlencode({"kpi": kpi, **window, "format": kind})
        for kpi in ("order_value", "on_time_rate")
        for kind in ("csv", "xlsx")
    }
