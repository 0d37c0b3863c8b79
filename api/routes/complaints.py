"""Customer complaints recorded against sales orders (by staff, for now)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from api.auth import allow
from api.deps import IdempotencyDep, MetaDep, RuntimeDep, command_response
from api.routes.models import Body
from api.types import AwareDatetime, CodePath

router = APIRouter(prefix="/sales-orders", tags=["sales orders"])

Category = Literal["quality", "late", "damaged", "wrong_items", "quantity", "billing", "other"]


class ComplaintIn(Body):
    category: Category
    reason: str = Field(min_length=1, max_length=2000)
    effective_at: AwareDatetime | None = None  # when the customer complained (default: now)


@router.post("/{number}/complaints", status_code=201, dependencies=[allow("orders:write")])
def record_complaint(
    number: CodePath, body: ComplaintIn, rt: RuntimeDep, meta: MetaDep, idem: IdempotencyDep
) -> Response:
    """Record a customer's complaint against the order (counted by the complaint-rate KPI)."""
    outcome = rt.ledger.record_complaint(
        meta, number=number, category=body.category, reason=body.reason,
        effective_at=body.effective_at, idempotency=idem,
    )  # fmt: skip
    return command_response(outcome, 201)
