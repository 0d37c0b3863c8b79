"""Fixtures for integration tests: a runtime with the catalog registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.runtime import Runtime, open_runtime
from domain.ledger import Ledger
from tests.conftest import drop_schemas, make_settings
from tests.integration.helpers import seed_catalog
from tests.integration.orders import register_customer


@pytest.fixture
def ledger(runtime: Runtime) -> Ledger:
    """The runtime's ledger with warehouses WH1, WH2 and products SKU-1, SKU-2."""
    seed_catalog(runtime.ledger)
    return runtime.ledger


@pytest.fixture
def sales(ledger: Ledger) -> Ledger:
    """The catalog (WH1, WH2, SKU-1, SKU-2) plus customer C-1."""
    register_customer(ledger)
    return ledger


@pytest.fixture
def pg_sales(tmp_path: Path) -> Iterator[Ledger]:
    """A ledger on its own PostgreSQL schemas with the catalog and customer C-1."""
    settings = make_settings("postgres", tmp_path)
    runtime = open_runtime(settings, start_projections=False)
    try:
        seed_catalog(runtime.ledger)
        register_customer(runtime.ledger)
        yield runtime.ledger
    finally:
        runtime.close()
        drop_schemas(settings)
