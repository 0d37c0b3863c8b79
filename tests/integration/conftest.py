"""Fixtures for integration tests: a runtime with the catalog registered."""

from __future__ import annotations

import pytest

from api.runtime import Runtime
from domain.ledger import Ledger
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
