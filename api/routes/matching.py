"""Automatic payment matching: the rules as data, a matching run, the unapplied-cash queue.

Matching by hand stays on the payment: `POST /payments/{ref}/allocations` (recorded with
rule `manual` and the actor) and `.../allocations/{id}/reverse` to undo any allocation.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import Field
from starlette.responses import Response

from api.auth import allow
from api.deps import (
    IdempotencyDep,
    IfMatchDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    to_json_ready,
    wait_for_position,
)
from api.errors import ApiError
from api.exports import ListingDep
from api.matching import run_auto_match, unapplied_page
from api.responses import json_response
from api.routes.models import Body as BodyModel
from api.types import Code

router = APIRouter(tags=["payment matching"])

_CURSOR = re.compile(r"^(\d{4}-\d{2}-\d{2})/([A-Za-z0-9][A-Za-z0-9._\-]{0,63})$")


class RunIn(BodyModel):
    bank_refs: list[Code] | None = Field(None, min_length=1, max_length=10_000)


@router.get("/matching-rules", dependencies=[allow("finance:read")])
def get_matching_rules(rt: RuntimeDep) -> Response:
    """The matching rules in force, in the order they run (version 0: the built-in
    defaults, nothing published yet)."""
    version, rules = rt.ledger.rules_in_force()
    return json_response({"version": version, "rules": rules}, headers={"ETag": f'"{version}"'})


@router.put("/matching-rules", dependencies=[allow("finance:write")])
def publish_matching_rules(
    rules: Annotated[dict[str, Any], Body()],
    rt: RuntimeDep,
    meta: MetaDep,
    version: IfMatchDep,
    idem: IdempotencyDep,
) -> Response:
    """Publish new matching rules: which rules run and in what order, the name threshold
    and the tolerance. If-Match: "0" publishes only if none are published yet."""
    outcome = rt.ledger.publish_matching_rules(
        meta, rules=rules, expected_version=version, idempotency=idem
    )
    return command_response(outcome)


@router.post("/matching/run", dependencies=[allow("finance:write")])
def run_matching(rt: RuntimeDep, meta: MetaDep, body: RunIn | None = None) -> Response:
    """Match the payments waiting in the unapplied-cash queue (or only `bank_refs`) by the
    rules in force and apply what they find, one payment per save; returns what each rule
    matched, with an explanation per allocation, and what is left for a person."""
    refs = None if body is None else body.bank_refs
    result = run_auto_match(rt, meta, refs)
    headers = {"X-Log-Position": str(result["position"])}
    return json_response(result, headers=headers)


@router.get("/payments/unapplied", dependencies=[allow("finance:read")])
def unapplied_payments(
    rt: RuntimeDep,
    listing: ListingDep,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    after: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    min_position: MinPosition = None,
) -> Response:
    """The unapplied-cash queue: payments with money left, oldest value date first, each
    with up to three suggestions (never applied: allocate by hand on the payment)."""
    wait_for_position(rt, min_position, "receivables")
    cursor = _cursor(after)
    today = datetime.now(UTC).date()

    def fetch(after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        return unapplied_page(rt, after=after, currency=currency, limit=limit, as_of=today)

    return listing.page("unapplied-payments", fetch, after=cursor, limit=limit,
                        cursor_of=lambda row: (str(row["value_date"]), row["bank_ref"]),
                        encode="/".join, shape=_queue_row)  # fmt: skip


def _cursor(after: str | None) -> tuple[str, str] | None:
    if after is None or after == "":
        return None
    found = _CURSOR.match(after)
    if not found:
        raise ApiError(422, "after is a next_cursor from the previous page", "invalid-input")
    try:
        date.fromisoformat(found.group(1))
    except ValueError:
        raise ApiError(
            422, "after is a next_cursor from the previous page", "invalid-input"
        ) from None
    return found.group(1), found.group(2)


def _queue_row(row: dict[str, Any]) -> dict[str, Any]:
    row = to_json_ready(row)
    row["suggestions"] = [to_json_ready(s) for s in row["suggestions"]]
    return row
