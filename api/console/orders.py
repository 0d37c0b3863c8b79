"""The order pages: the list of orders with its filters, and one order whole.

The list reads the API's own list query (the same filters, the same order by number), so
its export links are the API's CSV and XLSX of exactly the rows shown. The order page reads
the order as the API's `GET /sales-orders/{number}` answers it (the same view, cost and notes
left out as the API's redaction leaves them out), its timeline and receivables from the read
models; approving or rejecting is a call to the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from api.console import order_pages
from api.console.order_display import Show
from api.console.web import PageRefused, Viewer, page, render
from api.deps import RuntimeDep
from api.redaction import hidden_fields, redact
from api.routes.sales_orders import _view as order_view
from api.types import CodePath
from domain.exceptions import NotFound
from domain.workflows import DEFAULT_DEFINITION
from projections import queries

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_ROWS = 50
STATUSES = ("created", "approved", "partially_shipped", "shipped", "delivered", "cancelled")
STAGES = tuple(stage["key"] for stage in DEFAULT_DEFINITION["stages"])
Text = Annotated[str | None, Query(max_length=64)]


@dataclass(frozen=True)
class OrderFilters:
    """The list's filters as a GET form sends them (an empty field is no filter)."""

    status: str | None = None
    stage: str | None = None
    customer: str | None = None
    salesperson: str | None = None
    region: str | None = None
    ordered_from: date | None = None
    ordered_to: date | None = None
    search: str | None = None

    def query(self) -> dict[str, str]:
        """The filters that are set, as the API's list takes them."""
        return {name: str(value) for name, value in vars(self).items() if value}


def order_filters(
    status: Text = None,
    stage: Text = None,
    customer: Text = None,
    salesperson: Text = None,
    region: Text = None,
    ordered_from: Text = None,
    ordered_to: Text = None,
    search: Text = None,
) -> OrderFilters:
    def given(value: str | None) -> str | None:
        """An empty field is no filter; one with control characters matches nothing anyway
        (PostgreSQL refuses NUL in text), so it is no filter either."""
        if not value or not value.isprintable():
            return None
        return value.strip() or None

    return OrderFilters(
        status=status if status in STATUSES else None, stage=given(stage),
        customer=given(customer), salesperson=given(salesperson), region=given(region),
        ordered_from=_day(ordered_from), ordered_to=_day(ordered_to), search=given(search),
    )  # fmt: skip


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/orders")
def orders_page(
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("orders:read")],
    filters: Annotated[OrderFilters, Depends(order_filters)],
    after: Text = None,
) -> Response:
    """Orders by number, filtered, fifty to a page, with links to the same list as files."""
    with rt.store.read() as cur:
        rows = queries.list_sales_orders(
            cur, status=filters.status, stage=filters.stage, customer=filters.customer,
            salesperson=filters.salesperson, region=filters.region,
            ordered_from=filters.ordered_from, ordered_to=filters.ordered_to,
            search=filters.search, after=after if after and after.isprintable() else None,
            limit=PAGE_ROWS + 1,
        )  # fmt: skip
    shown = rows[:PAGE_ROWS]
    query = filters.query()
    more = len(rows) > PAGE_ROWS
    return render(
        viewer, "orders/list.html", rows=shown, filters=filters, statuses=STATUSES,
        stages=STAGES, show=Show(viewer.t, datetime.now(UTC)), first_page=bool(after),
        next_page=f"?{urlencode({**query, 'after': shown[-1]['number']})}" if more else None,
        this_list=f"?{urlencode(query)}",
        exports={kind: "/sales-orders?" + urlencode({**query, "format": kind})
                 for kind in ("csv", "xlsx")},
    )  # fmt: skip


@router.get("/orders/{number}")
def order_page(
    number: CodePath,
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("orders:read")],
    min_position: Text = None,
) -> Response:
    """One order: header, lines, timeline, approvals, shipments, receivable, complaints."""
    order_pages.wait_for(rt, min_position)
    try:
        order = rt.ledger.sales_order(number)
    except NotFound:
        raise PageRefused(
            404, viewer.t("Not found"), viewer.t("There is no order {number}.", number=number)
        ) from None
    costs = None
    if viewer.may("fields:cost"):
        costs = {line["sku"]: rt.ledger.product(line["sku"]).standard_cost for line in order.lines}
    view: dict[str, Any] = redact(order_view(order, costs), hidden_fields(viewer.principal))
    now = datetime.now(UTC)
    with rt.store.read() as cur:
        steps = queries.order_timeline(cur, number)
        current = queries.order_stages(cur, number, steps, now)
        owed = (
            order_pages.receivable(cur, number, now.date()) if viewer.may("finance:read") else None
        )
    awaiting = view["approval"]["awaiting_role"]
    return render(
        viewer, "orders/order.html", order=view, steps=steps, current=current, owed=owed,
        customer_name=order_pages.customer_name(rt, order.customer),
        approval=order_pages.approval_levels(view["approval"], steps),
        decisions=[s for s in steps if s["kind"] in order_pages.DECISIONS],
        may_decide=bool(awaiting) and awaiting == viewer.principal.role
        and viewer.may("orders:approve"),
        skus={line["line_no"]: line["sku"] for line in view["lines"]},
        complaints=order.complaints, show=Show(viewer.t, now),
    )  # fmt: skip
