"""Order tracking, for customers and for anyone holding a shared link.

`/console/track` lists a customer user's own orders, newest first (and looks an order up
by number, for staff too); `/console/track/{number}` shows one order's stage, promised
date, shipments and history, and follows the order's event stream while it is open. A
customer's page is confined to their own account: another's order is "not found" exactly
as an unknown one. With `?link=<token>` (api/tracking_links.py) the same page opens
read-only without a sign-in, for that one order until the link expires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.access import now
from api.auth import _bearer, _cookie
from api.console.i18n import Translate, language_of, translator
from api.console.order_tracking import (
    LIVE_EVENTS,
    STATUS,
    capital,
    moment,
    stage_label,
    tracking,
)
from api.console.web import PageAllow, PageRefused, Viewer, page, render
from api.deps import RuntimeDep
from api.routes.order_stream import HEADERS, ClosingStreamingResponse, OrderFeed, _resume_after
from api.tracking_links import LinkRefused, check
from api.types import CODE_PATTERN, MAX_POSITION
from domain.exceptions import NotFound
from domain.sales_orders import SalesOrder
from domain.workflows import Workflow
from projections.customer_orders import customer_orders
from projections.queries import order_timeline

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 25
_NUMBER = re.compile(CODE_PATTERN)
LinkQuery = Annotated[str | None, Query(max_length=4096)]


@dataclass(frozen=True)
class Reader:
    """Who reads an order's tracking page: a signed-in viewer, or a shared link's holder."""

    viewer: Viewer | None
    language: str
    t: Translate
    link: str | None = None

    @property
    def scope(self) -> str | None:
        """The one account a signed-in customer may see (a link opens its order only)."""
        return self.viewer.customer if self.viewer else None


class TrackAllow(PageAllow):
    """The page's permission, or a valid link to the order in the path instead."""

    def __call__(  # type: ignore[override]
        self,
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        cookie: Annotated[str | None, Depends(_cookie)],
        link: LinkQuery = None,
    ) -> Reader:
        if link is None:
            viewer = super().__call__(request, bearer, cookie)
            return Reader(viewer, viewer.language, viewer.t)
        language = language_of(request)
        t = translator(language)
        try:
            check(request.app.state.runtime.access, link, request.path_params["number"], now())
        except LinkRefused as refused:
            raise _refusal(refused, t) from None
        return Reader(None, language, t, link)


def _refusal(refused: LinkRefused, t: Translate) -> PageRefused:
    if refused.why == "expired":
        return PageRefused(410, t("This tracking link has expired"),
                           t("Ask whoever shared it for a new link."))  # fmt: skip
    if refused.why == "other-order":
        return PageRefused(403, t("This tracking link is for another order"),
                           t("A shared link opens only the order it was made for."))  # fmt: skip
    return PageRefused(
        403,
        t("This tracking link is not valid"),
        t("The link is incomplete or has been changed: use the whole link."),
    )


TrackedDep = Annotated[Reader, Depends(TrackAllow("orders:read", customers=True))]


@router.get("/track")
def my_orders(
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("orders:read", customers=True)],
    number: Annotated[str | None, Query(max_length=64)] = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=4000)] = 1,
) -> Response:
    """A customer's own orders, newest first, each linking to its tracking page; anyone
    may look an order up by number."""
    if number is not None and number.strip():
        wanted = number.strip()
        if _visible(rt, wanted, viewer.customer) is not None:
            return RedirectResponse(f"/console/track/{quote(wanted, safe='')}", status_code=303)
        return _list(rt, viewer, page_no, missing=wanted)
    return _list(rt, viewer, page_no, missing=None)


def _list(rt: RuntimeDep, viewer: Viewer, page_no: int, missing: str | None) -> Response:
    rows: list[dict[str, Any]] = []
    if viewer.customer is not None:
        with rt.store.read() as cur:
            rows = customer_orders(cur, viewer.customer, offset=(page_no - 1) * PAGE_SIZE,
                                   limit=PAGE_SIZE + 1)  # fmt: skip
    more = len(rows) > PAGE_SIZE
    flows: dict[tuple[str, int], Workflow] = {}
    for row in rows[:PAGE_SIZE]:
        key = (row["workflow"], int(row["workflow_version"]))
        if key not in flows:
            flows[key] = rt.ledger.workflow_definition(key[0]).workflow(key[1])
        row["stage_label"] = stage_label(flows[key], row["stage"], viewer.t)
        row["status_label"] = capital(viewer.t(STATUS.get(row["status"], row["status"])))
        row["placed"] = moment(row["created_at"]).date()
    return render(viewer, "tracking/list.html", status=404 if missing else 200,
                  orders=rows[:PAGE_SIZE], page_no=page_no, more=more, missing=missing)  # fmt: skip


def _visible(rt: RuntimeDep, number: str, scope: str | None) -> SalesOrder | None:
    """The order, if it exists and the reader's account (if any) owns it."""
    if not _NUMBER.match(number):
        return None
    try:
        order = rt.ledger.sales_order(number)
    except NotFound:
        return None
    return order if scope is None or order.customer == scope else None


def _order(rt: RuntimeDep, number: str, reader: Reader) -> SalesOrder:
    order = _visible(rt, number, reader.scope)
    if order is None:
        raise PageRefused(404, reader.t("Not found"),
                          reader.t("There is no order {number}.", number=number))  # fmt: skip
    return order


def _content(rt: RuntimeDep, order: SalesOrder, reader: Reader) -> dict[str, Any]:
    flow = rt.ledger.workflow_definition(order.workflow).workflow(order.workflow_version)
    with rt.store.read() as cur:
        timeline = order_timeline(cur, order.number)
    today = datetime.now(UTC).date()
    shown = tracking(order, flow, timeline, reader.t, today)
    position = max((int(row["position"]) for row in timeline), default=0)
    link = f"link={quote(reader.link, safe='')}&" if reader.link else ""
    base = f"/console/track/{quote(order.number, safe='')}"
    return {
        "track": shown,
        "link": reader.link,
        "keep_query": link,
        "fragment": f"{base}/live?{link}lang={reader.language}",
        "source": (f"{base}/stream?{link}after={position}" if reader.link
                   else f"/sales-orders/{quote(order.number, safe='')}/stream?after={position}"),
        "live_events": LIVE_EVENTS,
        "may_share": reader.viewer is not None and reader.viewer.customer is None,
    }  # fmt: skip


@router.get("/track/{number}")
def order_tracking(number: str, rt: RuntimeDep, reader: TrackedDep) -> Response:
    """One order's tracking page: stage, promised date, shipments and history, live."""
    order = _order(rt, number, reader)
    return render(reader.viewer, "tracking/order.html", language=reader.language,
                  **_content(rt, order, reader))  # fmt: skip


@router.get("/track/{number}/live")
def order_tracking_live(number: str, rt: RuntimeDep, reader: TrackedDep) -> Response:
    """The changing part of the tracking page, fetched again on each event of the order."""
    order = _order(rt, number, reader)
    return render(reader.viewer, "tracking/live.html", language=reader.language,
                  **_content(rt, order, reader))  # fmt: skip


class LinkFeed(OrderFeed):
    """The order's events for a link's holder: which event and where, nothing more (the
    page fetches what it shows; the rows' details are the business's own)."""

    def _read(self) -> tuple[list[dict[str, Any]], bool]:
        rows, done = super()._read()
        return [{"position": row["position"], "kind": row["kind"]} for row in rows], done


@router.get("/track/{number}/stream")
async def order_tracking_stream(
    number: str,
    request: Request,
    rt: RuntimeDep,
    reader: TrackedDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    until_terminal: bool = False,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """The order's events as they are recorded, for a page opened by a signed-in reader or
    with a shared link (the API's own stream needs a credential)."""
    order = await run_in_threadpool(_order, rt, number, reader)
    start = _resume_after(last_event_id, after)
    feed = LinkFeed(rt, request, order.number, start, until_terminal)
    return ClosingStreamingResponse(feed.frames(), media_type="text/event-stream", headers=HEADERS)
