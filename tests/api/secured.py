"""A running app with real authentication and a user with a key in every role."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api import access as access_module
from api.app import create_app
from api.credentials import hash_password
from api.runtime import Runtime
from domain.values import Meta
from domain.workflows import ROLES
from tests.api.conftest import TestClient
from tests.conftest import command_meta, drop_schemas, make_settings
from tests.integration.orders import register_customer

PASSWORD = "a long enough password"


def routes_of(app: FastAPI) -> Iterator[APIRoute]:
    """Every route the app answers, however its routers were included."""
    pending: list[Any] = list(app.router.routes)
    while pending:
        route = pending.pop(0)
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            pending.extend(route.original_router.routes)


class Secured:
    """The app with real authentication, and one user with a key in every role."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.keys: dict[str, str] = {}

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.client.app.state.runtime  # type: ignore[attr-defined]
        return runtime

    def as_role(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def head(self) -> int:
        return self.runtime.ledger.head()


def admin_meta() -> Meta:
    return command_meta("setup", actor="setup")


@functools.cache
def _password_hash() -> str:
    """One real scrypt hash of PASSWORD per test process: each user's stored hash is a
    genuine one that sign-in checks in full, without eleven slow hashes per test."""
    return hash_password(PASSWORD)


def _hash_once(password: str) -> str:
    return _password_hash() if password == PASSWORD else hash_password(password)


@pytest.fixture
def secured(store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Secured]:
    settings = make_settings(
        store_kind, tmp_path, sign_in_failure_delay_seconds=0, sign_in_max_failures=3
    )
    try:
        with TestClient(create_app(settings)) as client:
            opened = Secured(client)
            register_customer(opened.runtime.ledger, "C-1")
            register_customer(opened.runtime.ledger, "C-2")
            monkeypatch.setattr(access_module, "hash_password", _hash_once)
            for role in ROLES:
                customer = "C-1" if role == "customer" else None
                opened.runtime.access.create_user(
                    admin_meta(), name=f"u.{role}", role=role, customer=customer,
                    password=PASSWORD,
                )  # fmt: skip
                _, opened.keys[role] = opened.runtime.access.issue_key(
                    admin_meta(), name=f"u.{role}"
                )
            monkeypatch.setattr(access_module, "hash_password", hash_password)
            yield opened
    finally:
        if settings.is_postgres:
            drop_schemas(settings)
