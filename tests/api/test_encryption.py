"""The HTTP API end to end with the event store's cipher on, on real SQLite and PostgreSQL:
stock bought and received, an order taken and approved, everything read back — read models,
aggregates, as-of answers, the audit trail and chain — while the event tables hold no
customer name or SKU in plain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import Settings
from domain.cipher import new_key
from tests.api.conftest import open_api
from tests.conftest import drop_schemas, make_settings
from tests.integration.test_encryption import raw_states

CUSTOMER, SKU = "Zebulon Quartz Handels GmbH", "SKU-CLEARTEXT-7"


@pytest.fixture
def encrypted(store_kind: str, tmp_path: Path) -> Iterator[Settings]:
    made = make_settings(store_kind, tmp_path, cipher_key=new_key())
    yield made
    if made.is_postgres:
        drop_schemas(made)


def test_a_small_business_flow_works_end_to_end_with_the_cipher_on(encrypted: Settings) -> None:
    with open_api(encrypted) as api:
        api.warehouse("WH-1")
        api.product(SKU)
        api.ok("/purchase-orders", {"number": "PO-1", "supplier": "Acme", "warehouse": "WH-1",
                                    "lines": [{"sku": SKU, "quantity": "10"}]}, 201)  # fmt: skip
        api.ok("/purchase-orders/PO-1/approve")
        receipt = {"receipt_ref": "GRN-1", "lines": [{"line_no": 1, "quantity": "10"}]}
        received = api.ok("/purchase-orders/PO-1/receipts", receipt)
        api.ok("/customers", {"code": "C-1", "name": CUSTOMER, "billing_address": "1 Quay",
                              "shipping_address": "1 Quay", "region": "north",
                              "payment_terms_days": 30, "credit_limit": "5000"}, 201)  # fmt: skip
        api.ok("/sales-orders", {"number": "SO-1", "customer": "C-1", "warehouse": "WH-1",
                                 "salesperson": "ann",
                                 "lines": [{"sku": SKU, "quantity": "4", "unit_price": "9.5"}]},
               201)  # fmt: skip
        approved = api.ok("/sales-orders/SO-1/submit")

        assert approved["status"] == "approved"
        assert api.read("/customers/C-1")["name"] == CUSTOMER
        item = api.stock_item(SKU)
        assert (item["physical"], item["locked"], item["available"]) == ("10", "4", "6")
        inventory = api.read(f"/inventory/{SKU}", min_position=approved["position"])
        assert inventory["total"]["available"] == "6"
        order = api.read("/sales-orders/SO-1")
        assert (order["customer"], order["lines"][0]["reserved"]) == ("C-1", "4")
        then = api.read("/audit/as-of/inventory", position=received["position"], sku=SKU)
        assert [(r["physical"], r["locked"]) for r in then["items"]] == [("10", "0")]
        trail = api.read("/audit/trail", aggregate="SO-1")
        assert [e["event_type"] for e in trail["entries"]][:2] == [
            "SalesOrder.Created",
            "SalesOrder.Submitted",
        ]
        assert api.runtime.runner.wait_for(api.head(), ["audit_chain"])
        verified = api.post("/audit/verify").json()
        assert (verified["ok"], verified["verified"]) == (True, api.head())
        states = raw_states(encrypted, api.runtime.ledger)
    assert len(states) >= approved["position"]
    assert not [s for s in states if CUSTOMER.encode() in s or SKU.encode() in s]
