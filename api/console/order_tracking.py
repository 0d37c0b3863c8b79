"""What a customer sees of one order: where it stands on its way through the workflow,
whether it keeps its promised date, what has shipped with which carrier, and its history.

Built from the order as recorded (the ledger) and its projected timeline. Only what the
customer may see goes in: no costs, margins, internal notes, approval comments, credit
decisions or names of the staff involved (the history says *what* happened, not who).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from api.console.i18n import Translate
from domain.sales_orders import SalesOrder, line_amount
from domain.workflows import Workflow

# Timeline events a customer is told about, and how the history names each.
HISTORY = {
    "Created": "Order received",
    "Amended": "Order changed",
    "StageChanged": "Now: {stage}",
    "Shipped": "Goods shipped",
    "DeliveryConfirmed": "Delivery signed for",
    "Cancelled": "Order cancelled",
}
LIVE_EVENTS = " ".join(HISTORY)  # the stream's event names that change the page
STATUS = {
    "created": "received", "approved": "confirmed", "partially_shipped": "partially shipped",
    "shipped": "shipped", "delivered": "delivered", "cancelled": "cancelled",
}  # fmt: skip
BACKWARDS = frozenset({"cancelled", "rejected", "amended"})  # triggers off the way ahead


@dataclass(frozen=True)
class Punctuality:
    state: str  # "on-time", "late" or "none"
    text: str


def tracking(
    order: SalesOrder, flow: Workflow, timeline: list[dict[str, Any]], t: Translate, today: date
) -> dict[str, Any]:
    """The tracking page's content for `order` (its timeline rows oldest first)."""
    visited = [row["to_stage"] for row in timeline if row["kind"] in ("Created", "StageChanged")]
    return {
        "number": order.number,
        "status": order.status,
        "status_label": capital(t(STATUS.get(order.status, order.status))),
        "stage_label": stage_label(flow, order.stage, t),
        "steps": stage_bar(flow, order.stage, visited, t, order.status == "cancelled"),
        "promised_date": order.promised_date,
        "requested_delivery": order.requested_delivery,
        "punctuality": punctuality(order, today, t),
        "currency": order.currency,
        "total": order.total,
        "lines": [_line(order, line) for line in order.lines],
        "shipments": [_shipment(ref, sent) for ref, sent in order.shipments.items()],
        "history": [_step(row, flow, t) for row in timeline if row["kind"] in HISTORY],
    }


def stage_label(flow: Workflow, key: str, t: Translate) -> str:
    try:
        label = str(flow.stage(key)["label"])
    except KeyError:
        label = key.replace("_", " ")
    return capital(t(label))


def capital(text: str) -> str:
    """Workflow labels are written in lower case; a page starts them with a capital."""
    return text[:1].upper() + text[1:]


def stage_bar(
    flow: Workflow, stage: str, visited: list[str], t: Translate, cancelled: bool = False
) -> list[dict[str, Any]]:
    """The stages the order has passed (a return to an earlier stage drops the stages after
    it), the current one, then the shortest way ahead to a final stage."""
    path: list[str] = []
    for key in [*visited, stage]:
        path = path[: path.index(key) + 1] if key in path else [*path, key]
    ahead = [] if cancelled else _way_ahead(flow, stage, set(path))
    states = ["done"] * (len(path) - 1) + ["cancelled" if cancelled else "current"]
    states += ["ahead"] * len(ahead)
    return [{"key": key, "label": stage_label(flow, key, t), "state": state}
            for key, state in zip([*path, *ahead], states, strict=True)]  # fmt: skip


def _way_ahead(flow: Workflow, stage: str, passed: set[str]) -> list[str]:
    """Breadth first over forward transitions (in the definition's order) to a final stage."""
    if flow.is_final(stage):
        return []
    edges: dict[str, list[str]] = {}
    for move in flow.definition["transitions"]:
        if move["on"] not in BACKWARDS:
            edges.setdefault(move["from"], []).append(move["to"])
    came_from: dict[str, str] = {}
    queue = deque([stage])
    while queue:
        here = queue.popleft()
        if here != stage and flow.is_final(here):
            way = [here]
            while came_from[way[-1]] != stage:
                way.append(came_from[way[-1]])
            return way[::-1]
        for there in edges.get(here, []):
            if there not in came_from and there not in passed:
                came_from[there] = here
                queue.append(there)
    return []


def punctuality(order: SalesOrder, today: date, t: Translate) -> Punctuality:
    """On time or late against the promised date: by the last shipment once everything has
    shipped, by today until then."""
    promised = order.promised_date
    if promised is None or order.status == "cancelled":
        return Punctuality("none", t("No promised date") if promised is None else "")
    if order.status in ("shipped", "delivered") and order.shipments:
        sent = max(moment(s["shipped_at"]) for s in order.shipments.values()).date()
        days = (sent - promised).days
        if days > 0:
            return Punctuality(
                "late", t("Shipped {days} day(s) after the promised date", days=days)
            )
        return Punctuality("on-time", t("Shipped on time"))
    days = (promised - today).days
    if days < 0:
        return Punctuality("late", t("Late: {days} day(s) past the promised date", days=-days))
    return Punctuality("on-time", t("On time: {days} day(s) to the promised date", days=days))


def _line(order: SalesOrder, line: dict[str, Any]) -> dict[str, Any]:
    return {
        "line_no": line["line_no"],
        "sku": line["sku"],
        "quantity": Decimal(line["quantity"]),
        "shipped": order.shipped.get(str(line["line_no"]), Decimal(0)),
        "amount": line_amount(line, order.currency),
    }


def _shipment(ref: str, sent: dict[str, Any]) -> dict[str, Any]:
    delivered = sent["delivered"]
    return {
        "ref": ref,
        "carrier": sent["carrier"],
        "tracking_number": sent["tracking_number"],
        "shipped_at": moment(sent["shipped_at"]),
        "quantity": sum((Decimal(q) for q in sent["lines"].values()), Decimal(0)),
        "delivered_at": moment(delivered["at"]) if delivered else None,
        "signed_by": delivered["signed_by"] if delivered else None,
    }


def _step(row: dict[str, Any], flow: Workflow, t: Translate) -> dict[str, Any]:
    stage = stage_label(flow, row["to_stage"], t)
    return {
        "at": moment(row["effective_at"]),
        "kind": row["kind"],
        "text": t(HISTORY[row["kind"]], stage=stage),
        "stage": stage,
    }


def moment(value: Any) -> datetime:
    """PostgreSQL answers datetimes, SQLite ISO text; shown in UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC)
