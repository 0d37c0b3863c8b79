"""Every route declares the permission it needs: `dependencies=[allow("orders:read")]`.

A request names its caller with `Authorization: Bearer <API key or session token>`, or the
console's session cookie (then unsafe methods also need the session's `X-CSRF-Token`).
No credential, or one that is unknown, revoked, expired or whose user is disabled: 401.
A caller whose role lacks the permission: 403. The matrix is domain/permissions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api.access import Principal, now
from api.errors import ApiError
from api.runtime import Runtime
from domain.permissions import PERMISSIONS, PUBLIC, SIGNED_IN

COOKIE = "orderledger_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared for the OpenAPI description (its "Authorize" button); checked below, not by them.
_bearer = HTTPBearer(auto_error=False, description="An API key (olk_…) or a session token")
_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="The console's session")


def _unauthorised(detail: str) -> ApiError:
    return ApiError(401, detail, "unauthenticated", headers={"WWW-Authenticate": "Bearer"})


def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """The caller, or 401, as the app's authenticator says (`by_credentials` unless an
    embedding program gives the app another). Runs in a worker thread."""
    authenticator: Authenticator = request.app.state.authenticator
    found = authenticator(request, bearer, cookie)
    request.state.principal = found
    return found


Authenticator = Callable[[Request, HTTPAuthorizationCredentials | None, str | None], Principal]


def by_credentials(
    request: Request, bearer: HTTPAuthorizationCredentials | None, cookie: str | None
) -> Principal:
    """An API key or session token as a bearer, or the console's cookie (plus its CSRF
    token for changes). Reads the key's and the user's events: a revocation counts at once."""
    runtime: Runtime = request.app.state.runtime
    access = runtime.access
    moment = now()
    if bearer is not None:
        token = bearer.credentials
        found = access.by_key(token, moment)
        if found is None and token.count(".") == 2:  # a session token (JWT) sent as a bearer
            session = access.by_session(token, moment)
            found = session[0] if session else None
        if found is None:
            raise _unauthorised("the credential is unknown, revoked, expired or its user disabled")
    elif cookie is not None:
        session = access.by_session(cookie, moment)
        if session is None:
            raise _unauthorised("the session has ended: sign in again")
        found, csrf = session
        if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != csrf:
            raise ApiError(
                403, f"a change made with the session cookie needs its {CSRF_HEADER}", "csrf"
            )
    else:
        raise _unauthorised("send an API key or session token: Authorization: Bearer …")
    return found


PrincipalDep = Annotated[Principal, Depends(authenticate)]


class Allow:
    """The dependency a route declares: the caller must hold `permission`. A customer user
    passes only routes declared `customers=True`, which confine every answer to the
    caller's own account (`CustomerScope`)."""

    def __init__(self, permission: str, *, customers: bool = False) -> None:
        if permission not in PERMISSIONS and permission != SIGNED_IN:
            raise ValueError(f"unknown permission {permission!r}")
        self.permission = permission
        self.customers = customers

    def __call__(self, principal: PrincipalDep) -> Principal:
        if not principal.may(self.permission):
            raise ApiError(
                403,
                f"role {principal.role} may not do this: it needs the {self.permission} permission",
                "forbidden",
                permission=self.permission,
            )
        if principal.customer is not None and not self.customers and self.permission != SIGNED_IN:
            raise ApiError(
                403,
                "a customer account reaches only its own orders, invoices, receivables and"
                " statement",
                "forbidden",
                permission=self.permission,
            )
        return principal


def customer_scope(principal: PrincipalDep) -> str | None:
    """The one customer account the caller may see, or None: staff see every account."""
    return principal.customer


CustomerScope = Annotated[str | None, Depends(customer_scope)]


def scoped(scope: str | None, asked: str | None) -> str | None:
    """A list's customer filter: a customer user's own account, whatever was asked (asking
    for another account finds nothing, as an unknown one does)."""
    if scope is None:
        return asked
    if asked is not None and asked != scope:
        raise ApiError(404, f"customer {asked!r} not found", "not-found")
    return scope


def require_own(scope: str | None, owner: str, missing: str) -> None:
    """Refuse another customer's record exactly as a record that does not exist is refused
    (`missing` is that message), so ids cannot be probed."""
    if scope is not None and owner != scope:
        raise ApiError(404, missing, "not-found")


class Public:
    """The dependency of a route anyone may call (liveness, the API's description)."""

    permission = PUBLIC

    def __call__(self) -> None:
        return None


def allow(permission: str, *, customers: bool = False) -> Any:
    """`dependencies=[allow("orders:read")]` on a route; `allow(PUBLIC)` for no credential;
    `customers=True` on a route that confines its answers to a customer's own account."""
    if permission == PUBLIC:
        return Depends(Public())
    return Depends(Allow(permission, customers=customers))


def _guards(route: Any) -> list[Allow | Public]:
    """The permission guards a route declared: in `dependencies=[allow(…)]`, or as a
    parameter (a console page takes its `Viewer` from `page(…)`)."""
    dependant = getattr(route, "dependant", None)
    found: list[Allow | Public] = []
    for sub in getattr(dependant, "dependencies", ()):
        call = getattr(sub, "call", None)
        if isinstance(call, Allow | Public) and not any(call is seen for seen in found):
            found.append(call)
    return found


def serves_customers(route: Any) -> bool:
    """Whether a route is declared to serve customer users (scoped to their account)."""
    return any(isinstance(guard, Allow) and guard.customers for guard in _guards(route))


def declared_permission(route: Any) -> str | None:
    """The permission a route declared, or None (a test fails every route without one)."""
    found = _guards(route)
    return found[0].permission if len(found) == 1 else None
