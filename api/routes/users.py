"""Users, API keys and console sign-in.

An administrator (users:admin) creates users in a role, issues and revokes their keys and
resets passwords; anyone signs in with a password for a session (a token, also set as an
HttpOnly cookie for the console), signs out, and reads who they are.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.access import SignInRefused
from api.auth import COOKIE, PrincipalDep, allow
from api.credentials import verify_password
from api.deps import (
    AnonymousMetaDep,
    MetaDep,
    MinPosition,
    RuntimeDep,
    command_response,
    wait_for_position,
)
from api.errors import ApiError
from api.responses import json_response
from api.routes.models import Body
from api.types import Code
from domain.access import USERNAME
from domain.permissions import GRANTS, PUBLIC, SIGNED_IN
from domain.workflows import ROLES
from projections import queries

router = APIRouter(tags=["users and sign-in"])

Username = Annotated[str, Field(pattern=USERNAME.pattern, max_length=100)]
Password = Annotated[str, Field(min_length=12, max_length=1000)]
RoleName = Annotated[str, Field(json_schema_extra={"enum": list(ROLES)})]


class UserIn(Body):
    username: Username
    role: RoleName
    customer: Code | None = Field(None, description="The account a customer user sees")
    display_name: str = Field("", max_length=200)
    password: Password | None = Field(None, description="For console sign-in; keys need none")


class RoleIn(Body):
    role: RoleName
    customer: Code | None = None


class ReasonIn(Body):
    reason: str = Field(min_length=1, max_length=200)


class KeyIn(Body):
    label: str = Field("", max_length=200)
    expires_at: datetime | None = Field(None, description="With a time zone; none: no expiry")


class PasswordIn(Body):
    password: Password


class SignInIn(Body):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class PasswordChangeIn(Body):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: Password


@router.post("/users", status_code=201, dependencies=[allow("users:admin")])
def create_user(body: UserIn, rt: RuntimeDep, meta: MetaDep) -> Response:
    """Create a user in one role (a customer user names its customer account)."""
    outcome = rt.access.create_user(
        meta, name=body.username, role=body.role, customer=body.customer,
        display_name=body.display_name, password=body.password,
    )  # fmt: skip
    return command_response(outcome, 201, location=f"/users/{body.username}")


@router.get("/users", dependencies=[allow("users:admin")])
def list_users(rt: RuntimeDep, min_position: MinPosition = None) -> Response:
    """Every user with their role, status and keys (never a secret)."""
    wait_for_position(rt, min_position, "access")
    with rt.store.read() as cur:
        users = queries.users(cur)
    return json_response({"items": users})


@router.get("/users/{username}", dependencies=[allow("users:admin")])
def get_user(username: str, rt: RuntimeDep) -> Response:
    """One user as stored now."""
    user = rt.ledger.user(username)
    return json_response(
        {"username": user.username, "role": user.role, "customer": user.customer,
         "display_name": user.display_name, "status": user.status,
         "has_password": user.has_password, "version": user.version}
    )  # fmt: skip


@router.put("/users/{username}/role", dependencies=[allow("users:admin")])
def change_role(username: str, body: RoleIn, rt: RuntimeDep, meta: MetaDep) -> Response:
    """Move a user to another role: their sessions end, their keys act in the new role."""
    outcome = rt.ledger.change_user_role(
        meta, name=username, role_=body.role, customer=body.customer
    )
    return command_response(outcome)


@router.post("/users/{username}/disable", dependencies=[allow("users:admin")])
def disable_user(username: str, body: ReasonIn, rt: RuntimeDep, meta: MetaDep) -> Response:
    """Stop a user at once: every key and session of theirs is refused from now on."""
    return command_response(
        rt.ledger.set_user_enabled(meta, name=username, enabled=False, reason=body.reason)
    )


@router.post("/users/{username}/enable", dependencies=[allow("users:admin")])
def enable_user(username: str, body: ReasonIn, rt: RuntimeDep, meta: MetaDep) -> Response:
    """Let a disabled user act again (their keys that were not revoked work again)."""
    return command_response(
        rt.ledger.set_user_enabled(meta, name=username, enabled=True, reason=body.reason)
    )


@router.put("/users/{username}/password", dependencies=[allow("users:admin")])
def reset_password(username: str, body: PasswordIn, rt: RuntimeDep, meta: MetaDep) -> Response:
    """Set a user's password (tell them by another channel)."""
    return command_response(rt.access.set_password(meta, name=username, password=body.password))


@router.post("/users/{username}/keys", status_code=201, dependencies=[allow("users:admin")])
def issue_key(username: str, body: KeyIn, rt: RuntimeDep, meta: MetaDep) -> Response:
    """A new API key for the user. The `key` is shown in this answer only: store it now."""
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise ApiError(422, "expires_at needs a time zone", "invalid-input")
    outcome, key = rt.access.issue_key(
        meta, name=username, label=body.label, expires_at=body.expires_at
    )
    body_with_key = {**outcome.result, "key": key, "position": outcome.position}
    headers = {"X-Log-Position": str(outcome.position), "Cache-Control": "no-store"}
    return json_response(body_with_key, 201, headers=headers)


@router.post("/keys/{key_id}/revoke", dependencies=[allow("users:admin")])
def revoke_key(key_id: str, body: ReasonIn, rt: RuntimeDep, meta: MetaDep) -> Response:
    """Revoke a key for good: the next request signed with it is refused."""
    return command_response(rt.access.revoke_key(meta, key_id=key_id, reason=body.reason))


SIGN_IN_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Unknown user name or wrong password (answered after a delay)"},
    429: {
        "description": "Too many failures in a row: the name is locked for a while",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}},
    },
}


@router.post("/auth/sign-in", responses=SIGN_IN_REFUSALS, dependencies=[allow(PUBLIC)])
async def sign_in(body: SignInIn, rt: RuntimeDep, meta: AnonymousMetaDep) -> Response:
    """Exchange a user name and password for a session: the token (send it as a bearer)
    and the same token as an HttpOnly cookie for the console, with the CSRF token that
    changes made through the cookie must carry. Failures are answered slowly, and a name
    that fails too often in a row is locked for a while."""
    try:
        session = await run_in_threadpool(rt.access.sign_in, meta, body.username, body.password)
    except SignInRefused as refused:
        await asyncio.sleep(rt.settings.sign_in_failure_delay_seconds)
        if refused.retry_after is not None:
            raise ApiError(
                429, refused.message, "sign-in-locked",
                headers={"Retry-After": str(refused.retry_after)},
            ) from None  # fmt: skip
        raise ApiError(401, refused.message, "sign-in-refused") from None
    response = json_response(
        {"token": session.token, "csrf_token": session.csrf, "expires_at": session.expires_at,
         "username": body.username},
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip
    response.set_cookie(
        COOKIE, session.token, expires=session.expires_at, httponly=True, samesite="strict",
        secure=rt.settings.secure_cookies, path="/",
    )  # fmt: skip
    return response


@router.post("/auth/sign-out", dependencies=[allow(SIGNED_IN)])
def sign_out(rt: RuntimeDep, meta: MetaDep, principal: PrincipalDep) -> Response:
    """End this session (its token and cookie stop working at once)."""
    outcome = rt.access.sign_out(meta, principal)
    response = command_response(outcome)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/auth/me", dependencies=[allow(SIGNED_IN)])
def who_am_i(principal: PrincipalDep) -> Response:
    """The caller: name, role, customer account, and every permission the role holds."""
    return json_response(
        {"username": principal.name, "role": principal.role, "customer": principal.customer,
         "via": principal.via, "permissions": sorted(GRANTS[principal.role])}
    )  # fmt: skip


@router.put("/auth/password", dependencies=[allow(SIGNED_IN)])
def change_own_password(
    body: PasswordChangeIn, rt: RuntimeDep, meta: MetaDep, principal: PrincipalDep
) -> Response:
    """Change your own password, giving the current one."""
    stored = rt.access.credentials.get("password", principal.name)
    if not verify_password(body.current_password, stored):
        raise ApiError(403, "the current password is wrong", "wrong-password")
    return command_response(
        rt.access.set_password(meta, name=principal.name, password=body.new_password)
    )
