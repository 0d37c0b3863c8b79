"""The approvals inbox: orders waiting on an approval level the viewer's role decides.

A level names one role, and only that role may decide it (the domain's rule), so the inbox
is the orders whose `awaiting_role` is the viewer's, the one whose stage runs out of time
first at the top. Approving or rejecting is the API's command; the page then waits for the
orders read model to include it, so the order has left the inbox when the page comes back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.console import order_pages
from api.console.order_display import Show
from api.console.web import Viewer, page, render
from api.deps import RuntimeDep
from projections import worklists

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_ROWS = 50
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/approvals")
def approvals_page(
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("orders:approve")],
    after: Text = None,
    min_position: Text = None,
) -> Response:
    """Orders waiting for the viewer's role, fifty to a page, each with approve and reject."""
    order_pages.wait_for(rt, min_position)
    role = viewer.principal.role
    with rt.store.read() as cur:
        try:
            rows = worklists.awaiting_approval(cur, role, after=after, limit=PAGE_ROWS + 1)
        except ValueError:  # a cursor nobody made: the first page
            rows = worklists.awaiting_approval(cur, role, after=None, limit=PAGE_ROWS + 1)
        waiting = worklists.count_awaiting(cur, role)
        shown = rows[:PAGE_ROWS]
        paths = worklists.latest_steps(cur, [row["number"] for row in shown], kind="Submitted")
    more = len(rows) > PAGE_ROWS
    return render(
        viewer, "orders/approvals.html", rows=shown, role=role, waiting=waiting, paths=paths,
        show=Show(viewer.t, datetime.now(UTC)), first_page=bool(after),
        next_page=f"?{urlencode({'after': shown[-1]['cursor']})}" if more else None,
    )  # fmt: skip
