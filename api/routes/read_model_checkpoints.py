"""Read-model checkpoints (read-only): which exist, and whether this code can use each.

They are a cache that makes as-of answers fast (`orderledger replay checkpoint` builds them,
the server takes them every `read_model_checkpoint_interval` events); see docs/replay.md.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.auth import allow
from api.deps import RuntimeDep
from api.responses import json_response
from replay.asof import MODELS, projections_for
from replay.checkpoint_store import CheckpointUnusable
from replay.model_checkpoints import fingerprint

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/read-model-checkpoints", dependencies=[allow("audit:read")])
def read_model_checkpoints(rt: RuntimeDep) -> Response:
    """Every read-model checkpoint (model, position, recorded and created times, usable)."""
    wanted = {name: fingerprint(projections_for(name)) for name in MODELS}
    body: dict[str, object] = {
        "interval": rt.settings.read_model_checkpoint_interval,
        "models": list(MODELS),
    }
    try:
        infos = rt.checkpoints.list()
    except CheckpointUnusable as error:
        return json_response({**body, "checkpoints": [], "unreadable": str(error)})
    body["checkpoints"] = [
        {**info.as_json(), "usable": wanted.get(info.model) == info.fingerprint} for info in infos
    ]
    return json_response(body)
