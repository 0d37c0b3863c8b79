"""The audit bundle over HTTP: `GET /audit/export` streams it as a zip (read-only).

The bundle is unsigned here: a signing key belongs on the auditor's machine, not on the
server, so signed bundles are made with `orderledger audit export --key`. The zip is built
in a temporary folder (streamed from the log page by page) and removed once sent.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from api.auth import allow
from api.deps import RuntimeDep
from replay import audit
from replay.export import ExportRefused, export_bundle
from replay.moments import Moment, at_position, resolve

router = APIRouter(prefix="/audit", tags=["audit"])

PositionQuery = Annotated[
    int | None, Query(description="Up to this log position (default: the chain's head)")
]
AtQuery = Annotated[AwareDatetime | None, Query(description="Up to this recorded time")]


@router.get(
    "/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The bundle (zip)"}},
    dependencies=[allow("audit:export")],
)
def export(rt: RuntimeDep, to_position: PositionQuery = None, at: AtQuery = None) -> FileResponse:
    """The audit bundle up to a moment as a zip: events, chain, checkpoint, README, verifier.
    The log whole and unredacted (its hashes cover every byte): `audit:export`, not just
    `audit:read`."""
    moment = _moment(rt, to_position, at)
    work = Path(tempfile.mkdtemp(prefix="orderledger-export-"))
    try:
        done = export_bundle(rt.ledger, rt.store, work / "bundle.zip", moment, fmt="zip")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        done.path,
        media_type="application/zip",
        filename=f"orderledger-audit-{done.first_position}-{done.last_position}.zip",
        headers={"X-Bundle-Head-Hash": done.head_hash.hex()},
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


def _moment(rt: RuntimeDep, position: int | None, at: datetime | None) -> Moment:
    """The moment asked for; by default the chain's linked head, so a follower still
    linking the newest events never delays the answer."""
    if position is not None or at is not None:
        return resolve(rt.ledger, position=position, at=at, now=datetime.now(UTC))
    linked = audit.chain_status(rt.ledger, rt.store).position
    if linked == 0:
        raise ExportRefused("the chain has no events yet", rule="chain-empty")
    return at_position(rt.ledger, linked)
