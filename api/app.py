"""create_app(settings): the HTTP API, built at start-up, never at import time."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from api.auth import allow, by_credentials
from api.errors import install_error_handlers
from api.openapi import install_openapi
from api.responses import problem
from api.routes import (
    ar,
    audit,
    audit_export,
    audit_trail,
    credit,
    credit_notes,
    customers,
    health,
    inventory,
    invoices,
    matching,
    notifications,
    order_stream,
    payments,
    production,
    products,
    purchase_orders,
    read_model_checkpoints,
    receivables,
    replay,
    reservations,
    sales_orders,
    sla,
    statements,
    stock,
    users,
    warehouses,
    workflows,
    write_offs,
)
from api.routes.workflows import YAML_TYPES
from api.runtime import Runtime, open_runtime
from api.settings import Settings
from domain.permissions import PUBLIC

BODY_METHODS = {"POST", "PUT", "PATCH"}


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the API; it opens (or is given) the runtime for its lifetime."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime or open_runtime(settings)
        try:
            yield
        finally:
            if owned:
                app.state.runtime.close()

    app = FastAPI(
        title="OrderLedger",
        version="0.1.0",
        description="Event-sourced order-fulfilment ledger: inventory, orders, receivables.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, declared public like every other route
    )
    _serve_docs_offline(app)
    install_openapi(app)
    install_error_handlers(app)
    app.state.authenticator = by_credentials
    uploads = {statements.PATH: settings.statement_max_bytes + statements.UPLOAD_OVERHEAD}
    app.middleware("http")(_guard_bodies(settings.max_body_bytes, uploads))
    app.router.routes.extend(_resource_routes())
    return app


@functools.cache
def _resource_routes() -> tuple[BaseRoute, ...]:
    """Every resource's routes, made once per process and shared by the apps it creates.

    FastAPI analyses a route's signature and dependencies the first time a request is
    matched against it and keeps the result on the route; `include_router` copies routes,
    so each new app would pay that again (about 0.4 s on its first request). The routes
    hold nothing of an app: settings and the runtime reach handlers through the request."""
    combined = APIRouter()
    # matching before payments: /payments/unapplied must win over /payments/{bank_ref}.
    for module in (
        products, warehouses, customers, purchase_orders, sales_orders, order_stream,
        production, workflows, sla, receivables, invoices, matching, payments, statements,
        stock, reservations, inventory, notifications, health, credit_notes, write_offs,
        ar, credit, audit, audit_export, replay, audit_trail, read_model_checkpoints, users,
    ):  # fmt: skip
        combined.include_router(module.router)
    return tuple(combined.routes)


def _serve_docs_offline(app: FastAPI) -> None:
    """Swagger UI from the installed swagger-ui-bundle: /docs works without internet."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")

    @app.get("/openapi.json", include_in_schema=False, dependencies=[allow(PUBLIC)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[allow(PUBLIC)])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="OrderLedger API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )


def _accepted(content_type: str, path: str, uploads: dict[str, int]) -> bool:
    """JSON everywhere; process definitions may also be written in YAML; file uploads are
    multipart forms."""
    if content_type == "application/json" or content_type.endswith("+json"):
        return True
    if path in uploads:
        return content_type == "multipart/form-data"
    definitions = path.startswith("/workflows/") or path == "/approval-policy"
    return definitions and content_type in YAML_TYPES


def _guard_bodies(
    default_max_bytes: int, uploads: dict[str, int]
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Refuse oversized bodies (413) and bodies that are not JSON (415) before any work;
    upload routes (path → limit) take multipart forms up to their own limit."""

    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method in BODY_METHODS:
            max_bytes = uploads.get(request.url.path, default_max_bytes)
            length = request.headers.get("content-length")
            if length and (not length.isdigit() or int(length) > max_bytes):
                return problem(
                    413,
                    "Request too large",
                    f"bodies are limited to {max_bytes} bytes",
                    "body-too-large",
                    request,
                )
            body = await request.body()
            if len(body) > max_bytes:
                return problem(
                    413,
                    "Request too large",
                    f"bodies are limited to {max_bytes} bytes",
                    "body-too-large",
                    request,
                )
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if body and not _accepted(content_type, request.url.path, uploads):
                upload = request.url.path in uploads
                wanted = "multipart/form-data" if upload else "application/json"
                detail = f"send the body as {wanted}, not {content_type or 'no content type'}"
                return problem(
                    415, "Unsupported media type", detail, "unsupported-media-type", request
                )
        return await call_next(request)

    return guard
