"""Audit: the log's hash chain, its verification, and signed checkpoints (read-only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from api.auth import allow
from api.deps import RuntimeDep
from api.errors import ApiError
from api.responses import json_response
from replay import audit, checkpoints
from replay.verify import Verification

router = APIRouter(prefix="/audit", tags=["audit"])


class CheckpointCheck(BaseModel):
    checkpoint: dict[str, Any] = Field(
        description="A checkpoint as `audit sign-checkpoint` wrote it"
    )
    public_key: str = Field(
        min_length=1, max_length=10_000, description="The PEM public key it was signed with"
    )


@router.get("/chain", dependencies=[allow("audit:read")])
def chain(rt: RuntimeDep) -> Response:
    """The recorded chain's head (position, hash) and how far behind the log it is."""
    return json_response(audit.chain_status(rt.ledger, rt.store).as_json())


@router.post("/verify", dependencies=[allow("audit:read")])
def verify(rt: RuntimeDep) -> Response:
    """Recompute the chain from the log up to the recorded head; the first finding, if any."""
    return json_response(_verification(audit.verify_log(rt.ledger, rt.store)))


@router.post("/checkpoints/verify", dependencies=[allow("audit:read")])
def verify_checkpoint(body: CheckpointCheck, rt: RuntimeDep) -> Response:
    """Check a signed checkpoint: its signature, then the log up to it (422 with the reason)."""
    checkpoint = checkpoints.parse(body.checkpoint)
    key = checkpoints.load_public_key(body.public_key.encode())
    result = audit.verify_checkpoint(rt.ledger, rt.store, checkpoint, key)
    if result.finding is not None:
        raise ApiError(
            422,
            f"the log does not hold the checkpoint: {result.finding.line()}",
            "checkpoint-mismatch",
            finding=result.finding.as_json(),
        )
    return json_response({**_verification(result), "checkpoint": checkpoint.as_json()})


def _verification(result: Verification) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "verified": result.verified,
        "position": result.position,
        "head_hash": result.head_hash.hex(),
        "first_finding": None if result.finding is None else result.finding.as_json(),
    }
