"""create_app(settings): the HTTP API, built at start-up, never at import time."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

from api.auth import by_credentials
from api.console import console_routes, install_console
from api.docs_page import serve_docs
from api.errors import install_error_handlers
from api.hardening import harden
from api.openapi import install_openapi
from api.redaction import RedactingMiddleware
from api.routes import (
    ar,
    audit,
    audit_export,
    audit_trail,
    complaints,
    credit,
    credit_notes,
    customers,
    health,
    imports,
    inventory,
    invoices,
    kpis,
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
    tracking_links,
    users,
    warehouses,
    workflows,
    write_offs,
)
from api.runtime import Runtime, open_runtime
from api.settings import Settings


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the API; it opens (or is given) the runtime for its lifetime."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime or open_runtime(settings)
        # What start-up made (the runtime, routes, libraries) lives as long as the app: kept
        # out of the collector's full passes, which otherwise walk all of it and now and then
        # stall a request for ~100 ms (the dashboard's p95 at 100,000 orders showed it).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # collectable again once the app is done (tests make many apps)
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
    serve_docs(app)
    install_openapi(app)
    install_error_handlers(app)
    install_console(app)  # after the API's handlers: it answers console addresses with pages
    app.state.authenticator = by_credentials
    app.add_middleware(RedactingMiddleware)
    harden(app, settings)
    app.router.routes.extend(_resource_routes())
    app.router.routes.extend(console_routes())
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
        products, warehouses, customers, purchase_orders, sales_orders, complaints, order_stream,
        production, workflows, sla, receivables, invoices, matching, payments, statements,
        stock, reservations, inventory, notifications, health, credit_notes, write_offs,
        ar, credit, kpis, audit, audit_export, replay, audit_trail, read_model_checkpoints, users,
        imports, tracking_links,
    ):  # fmt: skip
        combined.include_router(module.router)
    return tuple(combined.routes)
