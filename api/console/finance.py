"""The finance pages: receivables ageing as of any day with its headline figures, the
unapplied-cash queue, and a customer's statement for a period.

Each page reads what the API answers for the same question — `ar.ageing` (`GET /ar/ageing`),
`ar.dso` (the DSO of `GET /ar/metrics`), the queue of `GET /payments/unapplied`, and
`GET /customers/{code}/statement` — so its figures are the API's, and its export links are
the API's files of the same list. The ageing's figures of a day are read once per state of
the read model (`day_figures`): paging, sorting and the tabs reuse them. A customer user
sees their own statement only; another account's is "not found", as the API answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.console import amounts
from api.console.day_figures import figures_of
from api.console.web import PageRefused, Viewer, page, render
from api.deps import RuntimeDep
from api.matching import unapplied_page
from api.types import CodePath
from domain.exceptions import NotFound
from projections import customer_statements
from projections.open_items import BUCKET_NAMES

router = APIRouter(prefix="/console", include_in_schema=False)

CUSTOMER_ROWS = 100
QUEUE_ROWS = 50
STATEMENT_DAYS = 90  # the statement's period when none is asked for: the last 90 days
SORTS = ("customer", "total", "overdue")
Text = Annotated[str | None, Query(max_length=100)]
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_QUEUE_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2})/([A-Za-z0-9][A-Za-z0-9._\-]{0,63})$")


def _today() -> date:
    return datetime.now(UTC).date()


@router.get("/finance")
def finance_page(
    request: Request,
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("finance:read")],
    as_of: Text = None,
    view: Text = None,
    sort: Text = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
    after: Text = None,
    currency: Text = None,
) -> Response:
    """Receivables as of a day: headline figures, the ageing per customer, unapplied cash."""
    problems: list[str] = []
    day = _day(as_of, problems, viewer) or _today()
    order = sort if sort in SORTS else "customer"
    figures = figures_of(request.app, rt, day)
    totals = figures.ageing["totals"]
    headline = _headline(totals, figures.dso, figures.unapplied)
    context: dict[str, Any] = {
        "as_of": day.isoformat(), "view": "unapplied" if view == "unapplied" else "ageing",
        "sort": order, "headline": headline, "problems": problems, "show": amounts,
        "buckets": BUCKET_NAMES, "columns": (*BUCKET_NAMES, "total"),
        "dso_from": figures.dso_from.isoformat(), "totals": totals,
    }  # fmt: skip
    if context["view"] == "unapplied":
        context.update(_queue(rt, day, after, currency))
    else:
        context.update(_customers(figures.ageing["customers"], day, order, page_number))
    return render(viewer, "finance/overview.html", **context)


def _headline(
    totals: dict[str, dict[str, Any]],
    dso: dict[str, Decimal | None],
    unapplied: dict[str, tuple[Decimal, int]],
) -> list[dict[str, Any]]:
    """Per currency: what is owed, how much of it overdue, open items, DSO, unapplied cash."""
    codes = sorted(set(totals) | set(unapplied))
    zero = Decimal(0)
    return [
        {
            "currency": code,
            "total": totals.get(code, {}).get("total", zero),
            "overdue": totals.get(code, {}).get("total", zero)
            - totals.get(code, {}).get("not_due", zero),
            "items": totals.get(code, {}).get("items", 0),
            "dso": dso.get(code),
            "unapplied": unapplied.get(code, (zero, 0))[0],
            "unapplied_count": unapplied.get(code, (zero, 0))[1],
        }
        for code in codes
    ]


def _customers(rows: list[dict[str, Any]], day: date, order: str, number: int) -> dict[str, Any]:
    """One page of the ageing's customer rows, in the order asked for."""
    if order == "total":
        rows = sorted(rows, key=lambda row: (-row["total"], row["customer"], row["currency"]))
    elif order == "overdue":
        rows = sorted(rows, key=lambda row: (row["not_due"] - row["total"], row["customer"]))
    pages = max(1, -(-len(rows) // CUSTOMER_ROWS))
    number = min(number, pages)
    shown = rows[(number - 1) * CUSTOMER_ROWS : number * CUSTOMER_ROWS]
    base = {"as_of": day.isoformat(), "sort": order}
    statement = {"from": (day - timedelta(days=STATEMENT_DAYS - 1)).isoformat(),
                 "to": day.isoformat()}  # fmt: skip
    return {
        "customers": shown,
        "customer_count": len(rows),
        "page": number,
        "pages": pages,
        "previous": _link("/console/finance", {**base, "page": str(number - 1)})
        if number > 1 else None,
        "next": _link("/console/finance", {**base, "page": str(number + 1)})
        if number < pages else None,
        "statement_query": urlencode(statement),
        "exports": {kind: _link("/ar/ageing", {"as_of": day.isoformat(), "format": kind})
                    for kind in ("csv", "xlsx")},
    }  # fmt: skip


def _queue(rt: Any, day: date, after: str | None, currency: str | None) -> dict[str, Any]:
    """One page of the unapplied-cash queue as `GET /payments/unapplied` answers it."""
    found = _QUEUE_KEY.match(after or "")
    cursor = (found.group(1), found.group(2)) if found else None
    code = currency if currency and _CURRENCY.match(currency) else None
    rows = unapplied_page(rt, after=cursor, currency=code, limit=QUEUE_ROWS + 1, as_of=_today())
    more, rows = len(rows) > QUEUE_ROWS, rows[:QUEUE_ROWS]
    base = {"as_of": day.isoformat(), "view": "unapplied", "currency": code}
    last = f"{rows[-1]['value_date']}/{rows[-1]['bank_ref']}" if rows else ""
    return {
        "payments": rows,
        "first_page": _link("/console/finance", base) if cursor else None,
        "next": _link("/console/finance", {**base, "after": last}) if more else None,
        "exports": {kind: _link("/payments/unapplied", {"currency": code, "format": kind})
                    for kind in ("csv", "xlsx")},
    }  # fmt: skip


@router.get("/finance/customers/{customer}/statement")
def statement_page(
    customer: CodePath,
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("finance:read", customers=True)],
    start: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=20)] = None,
    currency: Text = None,
) -> Response:
    """A customer's statement for a period: opening balance, each document with a running
    balance, the closing balance; a customer user reaches their own account only."""
    t = viewer.t
    missing = PageRefused(404, t("Not found"), t("No customer {code}.", code=customer))
    if viewer.customer is not None and viewer.customer != customer:
        raise missing  # another account's statement does not exist for this caller
    try:
        account = rt.ledger.customer_view(customer)
    except NotFound:
        raise missing from None
    problems: list[str] = []
    last = _day(end, problems, viewer) or _today()
    first = _day(start, problems, viewer) or last - timedelta(days=STATEMENT_DAYS - 1)
    if first > last:
        problems.append(t("The period starts after it ends: the last {n} days are shown.",
                          n=STATEMENT_DAYS))  # fmt: skip
        first = last - timedelta(days=STATEMENT_DAYS - 1)
    code = currency if currency and _CURRENCY.match(currency) else account.currency
    with rt.store.read() as cur:
        statement = customer_statements.customer_statement(
            cur, customer=account.code, currency=code, start=first, end=last
        )
    query = {"from": first.isoformat(), "to": last.isoformat(), "currency": code}
    exports = None
    if viewer.customer is None:  # files are for staff, as the API's exports
        exports = {kind: _link(f"/customers/{account.code}/statement", {**query, "format": kind})
                   for kind in ("csv", "xlsx")}  # fmt: skip
    return render(
        viewer, "finance/statement.html", statement=statement, account=account,
        show=amounts, problems=problems, exports=exports, query=query,
        api=_link(f"/customers/{account.code}/statement", query),
    )  # fmt: skip


def _day(value: str | None, problems: list[str], viewer: Viewer) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        problems.append(viewer.t("Not a date (YYYY-MM-DD): {value}", value=value))
        return None


def _link(path: str, query: Mapping[str, str | None]) -> str:
    given = {name: value for name, value in query.items() if value}
    return f"{path}?{urlencode(given)}" if given else path
