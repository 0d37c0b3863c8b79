"""Notifications: the delivery log of the outbox, and re-queueing one that failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from api.auth import allow
from api.deps import MinPosition, RuntimeDep, to_json_ready, wait_for_position
from api.errors import ApiError
from api.exports import ListingDep, reader
from api.responses import json_response
from api.runtime import Runtime
from api.types import CodeQuery
from projections import deliveries
from projections.outbox import ID_PATTERN, KIND_PATTERN

router = APIRouter(prefix="/notifications", tags=["notifications"])

NotificationId = Annotated[str, Path(max_length=200, pattern=ID_PATTERN)]
Status = Literal["pending", "sending", "delivered", "failed", "skipped"]


@router.get("", dependencies=[allow("notifications:read")])
def list_notifications(
    rt: RuntimeDep,
    listing: ListingDep,
    status: Status | None = None,
    kind: Annotated[str | None, Query(max_length=64, pattern=KIND_PATTERN)] = None,
    order_number: CodeQuery = None,
    channel: Literal["email", "webhook"] | None = None,
    after: Annotated[str | None, Query(max_length=200, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> Response:
    """The delivery log in log order, each notification with its attempts."""
    wait_for_position(rt, min_position, "outbox")
    filters = {"status": status, "kind": kind, "order_number": order_number, "channel": channel}
    cursor = (int(after.split("-", 1)[0]), after) if after else None
    fetch = reader(rt, deliveries.list_notifications, filters=filters)
    return listing.page("notifications", fetch, after=cursor, limit=limit, shape=_view,
                        cursor_of=lambda row: (int(row["id"].split("-", 1)[0]), row["id"]),
                        encode=lambda cursor: cursor[1])  # fmt: skip


@router.get("/{notification_id}", dependencies=[allow("notifications:read")])
def get_notification(notification_id: NotificationId, rt: RuntimeDep) -> Response:
    """One notification: recipient, text, payload, delivery state and every attempt."""
    return json_response(_view(_found(rt, notification_id)))


@router.post("/{notification_id}/retry", dependencies=[allow("notifications:write")])
def retry_notification(notification_id: NotificationId, rt: RuntimeDep) -> Response:
    """Give a failed notification a fresh set of attempts, starting now."""
    with rt.store.transaction() as cur:
        requeued = deliveries.requeue(cur, notification_id, datetime.now(UTC))
    found = _found(rt, notification_id)
    if not requeued:
        raise ApiError(
            409,
            f"notification {notification_id} is {found['status']}: only a failed one is retried",
            "notification-status",
        )
    return json_response(_view(found))


def _found(rt: Runtime, notification_id: str) -> dict[str, Any]:
    with rt.store.read() as cur:
        found = deliveries.notification(cur, notification_id)
    if found is None:
        raise ApiError(404, f"no notification {notification_id!r}", "not-found")
    return found


def _view(row: dict[str, Any]) -> dict[str, Any]:
    view = to_json_ready(row)
    view["attempts"] = [to_json_ready(attempt) for attempt in row["attempts"]]
    if "payload" in view:
        view["payload"] = orjson.loads(view["payload"])
    return view
