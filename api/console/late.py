"""The late list: orders past their stage's SLA, and those about to be, from the SLA columns
of the orders read model, the most (or least) overdue first, with what holds each up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.console.order_display import AT_RISK_WITHIN, Show
from api.console.web import Viewer, page, render
from api.deps import RuntimeDep
from projections import worklists

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_ROWS = 50
STATES = get_args(worklists.SlaState)
SORTS = get_args(worklists.Lateness)
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/late")
def late_page(
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("orders:read")],
    state: Text = None,
    sort: Text = None,
    after: Text = None,
) -> Response:
    """Late and at-risk orders, fifty to a page: stage, how late, who is to act, last step."""
    chosen: worklists.SlaState = state if state in STATES else "all"  # type: ignore[assignment]
    lateness: worklists.Lateness = sort if sort in SORTS else "most"  # type: ignore[assignment]
    now = datetime.now(UTC)
    with rt.store.read() as cur:

        def read(cursor: str | None) -> list[dict[str, object]]:
            return worklists.late_orders(
                cur, now=now, at_risk_within=AT_RISK_WITHIN, state=chosen, lateness=lateness,
                after=cursor, limit=PAGE_ROWS + 1,
            )  # fmt: skip

        try:
            rows = read(after)
        except ValueError:  # a cursor nobody made: the first page
            rows = read(None)
        shown = rows[:PAGE_ROWS]
        last = worklists.latest_steps(cur, [str(row["number"]) for row in shown])
    query = {"state": chosen, "sort": lateness}
    more = len(rows) > PAGE_ROWS
    return render(
        viewer, "orders/late.html", rows=shown, last=last, state=chosen, sort=lateness,
        states=STATES, show=Show(viewer.t, now), first_page=bool(after),
        this_list=f"?{urlencode(query)}",
        resort=f"?{urlencode({**query, 'sort': 'least' if lateness == 'most' else 'most'})}",
        next_page=f"?{urlencode({**query, 'after': shown[-1]['cursor']})}" if more else None,
    )  # fmt: skip
