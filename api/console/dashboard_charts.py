"""The dashboard's figures as people see them: headline cards, Plotly figures, leaderboards
and the late-orders pivot, each number with the address of the orders behind it.

Everything here is built from rows the KPI queries return (`projections/kpi_queries.py`,
`projections/late_orders.py`), the same rows `GET /kpis` and `GET /kpis/late` answer, so
the page shows the API's figures; a drill-down address names exactly the figure's period,
dimension value and key, which is what `GET /kpis/{kpi}/orders` takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus, urlencode

from api.console.i18n import Translate
from domain.workflows import DEFAULT_DEFINITION
from projections.late_orders import REASONS, stage_rank

ORDERS_PAGE = "/console/dashboard/orders"
KPI_LABELS = {
    "order_value": "Order value", "on_time_rate": "On-time delivery",
    "cycle_time": "Cycle time", "first_pass_yield": "First-pass yield",
    "complaint_rate": "Complaint rate", "collection_rate": "Collection rate", "dso": "DSO",
    "stage_time": "Time per stage",
}  # fmt: skip
DIMENSION_LABELS = {
    "all": "All orders", "region": "Region", "salesperson": "Salesperson",
    "product_line": "Product line",
}  # fmt: skip
PERIOD_LABELS = {"day": "Day", "week": "Week", "month": "Month"}
REASON_LABELS = {
    "credit_hold": "On credit hold", "approval": "Waiting for approval",
    "production": "Waiting for production", "partly_shipped": "Partly shipped",
    "in_transit": "Shipped, not yet delivered", "none": "Nothing recorded",
}  # fmt: skip
WORDS = {"qc_passed": "QC passed"}
MARGIN = {"t": 10, "b": 10, "l": 10, "r": 10}
STAGE_ROLES = {stage["key"]: stage["role"] for stage in DEFAULT_DEFINITION["stages"]}
COLOURS = ["#1f5fbf", "#d9822b", "#2a9d5c", "#b3261e", "#7b4fbf", "#0f8b8d", "#8c6d1f",
           "#c2417a", "#4d6a8c", "#6b8e23"]  # fmt: skip


def labels(t: Translate) -> dict[str, Any]:
    """The words the dashboard's templates show for keys, in the viewer's language."""
    return {
        "periods": {k: t(v) for k, v in PERIOD_LABELS.items()},
        "dimensions": {k: t(v) for k, v in DIMENSION_LABELS.items()},
        "reasons": {k: t(v) for k, v in REASON_LABELS.items()},
        "kpis": {k: t(v) for k, v in KPI_LABELS.items()},
        "stage": lambda key: t(label(key)),
    }


class Links:
    """Drill-down addresses, each carrying the dashboard's own query (`back`) so its page
    can lead back to the dashboard as it was (the page policy sends no referrer)."""

    def __init__(self, back: str = "") -> None:
        self.tail = f"&{urlencode({'back': back})}" if back else ""  # encoded once

    def figure(self, kpi: str, period: str, begins: date, by: str, value: str,
               key: str | None) -> str:  # fmt: skip
        """The orders of one figure: the same parameters as /kpis/{kpi}/orders."""
        query = f"kpi={kpi}&period={period}&period_start={begins.isoformat()}&by={by}"
        query += f"&value={quote_plus(value)}" + (f"&key={quote_plus(key)}" if key else "")
        return f"{ORDERS_PAGE}?{query}{self.tail}"

    def late(self, stage: str | None, reason: str | None) -> str:
        """The orders of one cell (or row, or column) of the late pivot."""
        query = {"late": "1", **({"stage": stage} if stage else {}),
                 **({"reason": reason} if reason else {})}  # fmt: skip
        return f"{ORDERS_PAGE}?{urlencode(query)}{self.tail}"


def label(text: str) -> str:
    """A stage or role key as words (`stock_confirmed` → `Stock confirmed`)."""
    return WORDS.get(text) or text.replace("_", " ").capitalize()


def shown(row: dict[str, Any], t: Translate) -> str:
    """A figure as text, in its unit."""
    figure: Decimal = row["figure"]
    unit = row["unit"]
    if unit == "ratio":
        return f"{figure * 100:.1f} %"
    if unit == "money":
        return f"{figure:,.2f} {row['key']}"
    if unit == "days":
        return t("{value} days", value=f"{figure:,.1f}")
    return t("{value} h", value=f"{figure:,.1f}")


def plotted(row: dict[str, Any]) -> float:
    """The number a chart plots: ratios as percentages."""
    figure = float(row["figure"])
    return round(figure * 100, 4) if row["unit"] == "ratio" else figure


@dataclass(frozen=True)
class Card:
    kpi: str
    title: str
    value: str  # the focus period's figure as text, "—" without one
    figure: str | None  # the exact figure, for readers of the page's markup
    before: str | None  # the period before, as text
    orders: int
    href: str | None


def cards(
    t: Translate, links: Links, figures: dict[str, list[dict[str, Any]]], period: str,
    focus: date, previous: date,
) -> list[Card]:  # fmt: skip
    """One card per headline KPI (money KPIs: one per currency) for the focus period."""
    made = []
    for kpi, rows in figures.items():
        now = {r["key"]: r for r in rows if r["period_start"] == focus}
        then = {r["key"]: r for r in rows if r["period_start"] == previous}
        for key in sorted(set(now) | set(then), key=lambda k: k or "") or [None]:
            row, old = now.get(key), then.get(key)
            title = t(KPI_LABELS[kpi]) + (f" · {key}" if key else "")
            made.append(Card(
                kpi, title, _card_value(row, t),
                str(row["figure"]) if row else None, shown(old, t) if old else None,
                row["orders"] if row else 0,
                links.figure(kpi, period, focus, "all", "all", key) if row else None,
            ))  # fmt: skip
    return made


def _card_value(row: dict[str, Any] | None, t: Translate) -> str:
    """A card's figure: money without its currency, which the card's title names."""
    if row is None:
        return "—"
    return f"{row['figure']:,.2f}" if row["unit"] == "money" else shown(row, t)


def trend(
    t: Translate, links: Links, rows: list[dict[str, Any]], *, kpi: str, period: str, by: str,
    percent: bool,
) -> dict[str, Any]:  # fmt: skip
    """A line per dimension value (and currency), a point per period."""
    lines: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for row in rows:
        lines.setdefault((row["value"], row["key"]), []).append(row)
    currencies = {key for _, key in lines}
    data = []
    for n, ((value, key), points) in enumerate(sorted(lines.items(), key=_by_name)):
        name = t(DIMENSION_LABELS["all"]) if by == "all" else value
        if key and (by == "all" or len(currencies) > 1):
            name = key if by == "all" else f"{name} · {key}"
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": name,
            "x": [p["period_start"].isoformat() for p in points],
            "y": [plotted(p) for p in points],
            "text": [shown(p, t) for p in points],
            "customdata": [links.figure(kpi, period, p["period_start"], by, value, key)
                           for p in points],
            "hovertemplate": "%{x}<br>%{text}<extra>%{fullData.name}</extra>",
            "line": {"color": COLOURS[n % len(COLOURS)]},
        })  # fmt: skip
    axis: dict[str, Any] = {"rangemode": "tozero", "automargin": True}
    if percent:
        axis.update(ticksuffix=" %", range=[0, 105])
    return {"data": data, "layout": {
        "xaxis": {"type": "date", "automargin": True}, "yaxis": axis, "hovermode": "closest",
        "height": 320,
        "legend": {"orientation": "h", "y": -0.2}, "margin": {"t": 10, "r": 10},
    }}  # fmt: skip


def _by_name(item: tuple[tuple[str, str | None], Any]) -> tuple[str, str]:
    (value, key), _ = item
    return value, key or ""


def shares(
    t: Translate, links: Links, rows: list[dict[str, Any]], *, period: str
) -> list[dict[str, Any]]:
    """A donut of order value by product line, one per currency (amounts never mix)."""
    charts = []
    for currency in sorted({r["key"] for r in rows}):
        slices = sorted((r for r in rows if r["key"] == currency), key=lambda r: -r["figure"])
        charts.append({"currency": currency, "figure": {"data": [{
            "type": "pie", "hole": 0.45, "sort": False, "direction": "clockwise",
            "labels": [r["value"] for r in slices], "values": [float(r["figure"]) for r in slices],
            "text": [shown(r, t) for r in slices], "textinfo": "label+percent",
            "textposition": "inside", "insidetextorientation": "horizontal",
            "hovertemplate": "%{label}<br>%{text}<br>%{percent}<extra></extra>",
            "customdata": [links.figure("order_value", period, r["period_start"],
                                        "product_line", r["value"], currency) for r in slices],
            "marker": {"colors": COLOURS},
        }], "layout": {"showlegend": False, "margin": MARGIN, "height": 300,
                       "uniformtext": {"minsize": 10, "mode": "hide"}}}})  # fmt: skip
    return charts


def leaders(t: Translate, links: Links, rows: list[dict[str, Any]], *, period: str, by: str,
            kpi: str, fastest: bool = False, limit: int = 10) -> list[dict[str, Any]]:  # fmt: skip
    """A leaderboard of rows in one currency (or stages): the highest figures first, or the
    lowest (`fastest`)."""
    ordered = sorted(rows, key=lambda r: (r["figure"] if fastest else -r["figure"], r["value"],
                                          r["key"] or ""))  # fmt: skip
    board = []
    for row in ordered[: limit if not fastest else None]:
        name = row["key"] if kpi == "stage_time" else row["value"]
        board.append({
            "name": label(name) if kpi == "stage_time" else name,
            "role": label(STAGE_ROLES.get(row["key"] or "", "")) if kpi == "stage_time" else "",
            "key": row["key"], "value": shown(row, t), "figure": str(row["figure"]),
            "count": f"{row['denominator']:,.0f}", "orders": row["orders"],
            "href": links.figure(kpi, period, row["period_start"], by, row["value"], row["key"]),
        })  # fmt: skip
    if kpi != "stage_time":
        for rank, entry in enumerate(board, 1):
            entry["rank"] = rank
    return board


@dataclass(frozen=True)
class Pivot:
    stages: list[str]
    reasons: list[str]
    cells: dict[tuple[str, str], int]
    total: int

    def row_total(self, stage: str) -> int:
        return sum(n for (s, _), n in self.cells.items() if s == stage)

    def column_total(self, reason: str) -> int:
        return sum(n for (_, r), n in self.cells.items() if r == reason)


def pivot(rows: Iterable[dict[str, Any]]) -> Pivot:
    cells = {(r["stage"], r["reason"]): int(r["orders"]) for r in rows}
    stages = sorted({stage for stage, _ in cells}, key=stage_rank)
    return Pivot(stages, list(REASONS), cells, sum(cells.values()))
