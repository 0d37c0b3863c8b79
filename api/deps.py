"""What every route needs: the runtime, command metadata, idempotency and version checks."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Query, Request
from starlette.responses import Response

from api.auth import PrincipalDep
from api.errors import ApiError
from api.responses import json_response
from api.runtime import Runtime
from domain.application import IdempotencyClaim, Outcome
from domain.values import Meta

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_ETAG = re.compile(r'^(?:W/)?"(\d{1,12})"$')


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def command_meta(
    request: Request,
    principal: PrincipalDep,
    x_correlation_id: Annotated[str | None, Header()] = None,
) -> Meta:
    """The authenticated caller, its role and the correlation id, for the events this
    command records."""
    correlation = x_correlation_id or uuid.uuid4().hex
    if not _KEY.match(correlation):
        raise ApiError(
            422, "X-Correlation-Id must be 1-200 visible ASCII characters", "invalid-correlation-id"
        )
    route = request.scope.get("route")
    return Meta(
        actor=principal.name,
        role=principal.role,
        correlation_id=correlation,
        command=getattr(route, "name", request.url.path),
        at=datetime.now(UTC),
    )


MetaDep = Annotated[Meta, Depends(command_meta)]


def anonymous_meta(
    request: Request, x_correlation_id: Annotated[str | None, Header()] = None
) -> Meta:
    """Metadata for the one command a caller makes before it is known: signing in."""
    correlation = x_correlation_id or uuid.uuid4().hex
    if not _KEY.match(correlation):
        raise ApiError(
            422, "X-Correlation-Id must be 1-200 visible ASCII characters", "invalid-correlation-id"
        )
    route = request.scope.get("route")
    return Meta(
        actor="anonymous",
        correlation_id=correlation,
        command=getattr(route, "name", request.url.path),
        at=datetime.now(UTC),
    )


AnonymousMetaDep = Annotated[Meta, Depends(anonymous_meta)]


async def idempotency_claim(
    request: Request,
    idempotency_key: Annotated[
        str | None, Header(description="Retrying with the same key returns the first result")
    ] = None,
) -> IdempotencyClaim | None:
    if idempotency_key is None:
        return None
    if not _KEY.match(idempotency_key):
        raise ApiError(
            422, "Idempotency-Key must be 1-200 visible ASCII characters", "invalid-idempotency-key"
        )
    body = await request.body()
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256()
    for part in (
        request.method.encode(),
        request.url.path.encode(),
        request.url.query.encode(),
        canonical,
    ):
        digest.update(part + b"\x00")
    return IdempotencyClaim(idempotency_key, digest.hexdigest())


IdempotencyDep = Annotated[IdempotencyClaim | None, Depends(idempotency_claim)]


def expected_version(
    if_match: Annotated[
        str | None, Header(description='Version the change is based on, e.g. "3"')
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if not found:
        raise ApiError(422, 'If-Match must be an ETag such as "3"', "invalid-if-match")
    return int(found.group(1))


IfMatchDep = Annotated[int | None, Depends(expected_version)]


def command_response(outcome: Outcome, status: int = 200, location: str | None = None) -> Response:
    """A command's result with the log position it wrote (pass it as `min_position` to read)."""
    body = {**outcome.result, "position": outcome.position}
    headers = {"X-Log-Position": str(outcome.position)}
    if "version" in outcome.result:
        headers["ETag"] = f'"{outcome.result["version"]}"'
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    if location:
        headers["Location"] = location
    return json_response(body, status=status, headers=headers)


def wait_for_position(runtime: Runtime, position: int | None, *names: str) -> None:
    """Read-your-writes: wait briefly until the read model includes `position`."""
    if not position:
        return
    if position > runtime.ledger.head():
        raise ApiError(
            422, f"min_position {position} is beyond the end of the log", "unknown-position"
        )
    if not runtime.runner.wait_for(
        position, names, timeout=runtime.settings.read_your_writes_timeout
    ):
        raise ApiError(503, f"read model has not reached position {position} yet", "projection-lag")


MinPosition = Annotated[
    int | None,
    Query(
        ge=0, le=2**63 - 1, description="Wait until the read model has processed this log position"
    ),
]


def to_json_ready(row: dict[str, Any]) -> dict[str, Any]:
    from api.responses import iso

    return {
        key: iso(value) if not isinstance(value, Decimal) else value for key, value in row.items()
    }


def position_page(rows: list[dict[str, Any]], limit: int) -> Response:
    """A keyset page of rows ordered by log position: the items, and the cursor of the next
    page (none when this one is not full)."""
    next_cursor = rows[-1]["position"] if len(rows) == limit else None
    return json_response({"items": [to_json_ready(r) for r in rows], "next_cursor": next_cursor})
