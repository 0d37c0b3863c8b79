"""Every stored event says who and why; idempotency keys, If-Match and bad input store nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from domain.application import IdempotencyClaim
from domain.exceptions import IdempotencyKeyReused, InvalidInput, NotFound, StaleVersion
from domain.idempotency import IdempotencyRecord, idempotency_id
from domain.ledger import Ledger
from tests.conftest import command_meta as meta
from tests.integration.helpers import create_po, levels, produce, settle, stored_events

D = Decimal


def test_every_stored_event_carries_actor_and_correlation_id(
    runtime: Runtime, ledger: Ledger
) -> None:
    produce(ledger, "SKU-1", "10")
    ledger.set_safety_stock(meta(), sku="SKU-1", warehouse="WH1", level="50")
    settle(runtime)  # the safety-stock follower raises a requisition: its events too
    produce(ledger, "SKU-2", "1", idempotency=IdempotencyClaim("k-meta", "h"))
    create_po(ledger, "PO-1", [("SKU-1", "5"), ("SKU-2", "5")])
    ledger.approve_purchase_order(meta(actor="buyer@example.com"), number="PO-1")
    ledger.reserve(
        meta(actor="shop"), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="2"
    )
    ledger.transfer(meta(), sku="SKU-1", from_warehouse="WH1", to_warehouse="WH2", quantity_="1")

    events = stored_events(ledger)
    assert len(events) >= 12
    for position, stored in events:
        assert stored.meta["actor"], position
        assert stored.meta["correlation_id"].startswith("corr-"), position
        assert stored.meta["command"], position

    # The library's own notification log gives the same metadata.
    section = list(ledger.notification_log.select(start=1, limit=10))
    assert [n.id for n in section] == [p for p, _ in events[:10]]
    first = ledger.mapper.to_domain_event(section[0])
    assert first.meta == events[0][1].meta
    approvals = [e for _, e in events if type(e).__qualname__ == "PurchaseOrder.Approved"]
    assert approvals[0].meta["actor"] == "buyer@example.com"
    kinds = {type(e).__qualname__ for _, e in events}
    assert {"PurchaseRequisition.Raised", "IdempotencyRecord.Recorded"} <= kinds
    [raised] = [e for _, e in events if type(e).__qualname__ == "PurchaseRequisition.Raised"]
    assert raised.meta["actor"] == "system:safety-stock"
    assert raised.meta["causation_id"] == str(raised.trigger_position)


def test_the_same_idempotency_claim_twice_replays_the_first_result(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    claim = IdempotencyClaim("key-1", "hash-a")
    first = ledger.reserve(
        meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="4", idempotency=claim
    )
    head = ledger.head()
    second = ledger.reserve(
        meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="4", idempotency=claim
    )
    assert (first.replayed, second.replayed) == (False, True)
    assert second.result == first.result
    assert ledger.head() == head
    assert levels(ledger, "SKU-1") == (D(10), D(0), D(4))
    record = ledger.repository.get(idempotency_id("key-1"))
    assert isinstance(record, IdempotencyRecord)
    assert record.result == first.result


def test_an_idempotent_retry_is_replayed_even_when_the_command_would_now_be_refused(
    ledger: Ledger,
) -> None:
    produce(ledger, "SKU-1", "4")
    claim = IdempotencyClaim("key-2", "hash-a")
    args: dict[str, Any] = {
        "sku": "SKU-1",
        "warehouse": "WH1",
        "order_ref": "SO-1",
        "quantity_": "4",
    }
    first = ledger.reserve(meta(), **args, idempotency=claim)
    head = ledger.head()
    again = ledger.reserve(meta(), **args, idempotency=claim)  # nothing is available any more
    assert again.replayed
    assert again.result == first.result
    assert ledger.head() == head


def test_the_same_key_with_a_different_request_is_refused(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    ledger.reserve(
        meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="4",
        idempotency=IdempotencyClaim("key-3", "hash-a"),
    )  # fmt: skip
    head = ledger.head()
    with pytest.raises(IdempotencyKeyReused) as error:
        ledger.reserve(
            meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="5",
            idempotency=IdempotencyClaim("key-3", "hash-b"),
        )  # fmt: skip
    assert error.value.rule == "idempotency-key-reused"
    assert ledger.head() == head
    assert levels(ledger, "SKU-1") == (D(10), D(0), D(4))


def test_an_idempotent_create_replays_instead_of_conflicting(ledger: Ledger) -> None:
    claim = IdempotencyClaim("create-po-1", "hash-a")
    first = create_po(ledger, "PO-1", [("SKU-1", "5")], idempotency=claim)
    head = ledger.head()
    second = create_po(ledger, "PO-1", [("SKU-1", "5")], idempotency=claim)
    assert second.replayed
    assert second.result == first.result == {"number": "PO-1", "status": "draft", "version": 1}
    assert ledger.head() == head


def test_a_stale_expected_version_is_refused_with_the_current_version(ledger: Ledger) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "5")])
    head = ledger.head()
    with pytest.raises(StaleVersion) as error:
        ledger.approve_purchase_order(meta(), number="PO-1", expected_version=2)
    assert error.value.current_version == 1
    assert error.value.rule == "stale-version"
    assert ledger.head() == head
    approved = ledger.approve_purchase_order(meta(), number="PO-1", expected_version=1)
    assert approved.result["version"] == 2


def test_a_count_against_a_stale_version_of_the_stock_item_is_refused(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    version = ledger.stock_item("SKU-1", "WH1").version
    ledger.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="1")
    head = ledger.head()
    with pytest.raises(StaleVersion) as error:
        ledger.count_stock(
            meta(), sku="SKU-1", warehouse="WH1", counted="9", reason="recount",
            expected_version=version,
        )  # fmt: skip
    assert error.value.current_version == version + 1
    assert ledger.head() == head
    assert levels(ledger, "SKU-1") == (D(10), D(0), D(1))


BAD_INPUT: dict[str, tuple[Any, type[Exception]]] = {
    "float-quantity": (lambda ledger: reserve(ledger, quantity_=1.0), InvalidInput),
    "bad-order-ref": (lambda ledger: reserve(ledger, order_ref="SO 1"), InvalidInput),
    "nan-quantity": (lambda ledger: reserve(ledger, quantity_="NaN"), InvalidInput),
    "negative-count": (lambda ledger: count(ledger, counted="-1"), InvalidInput),
    "blank-reason": (lambda ledger: count(ledger, reason=" "), InvalidInput),
    "huge-safety-stock": (
        lambda ledger: ledger.set_safety_stock(meta(), sku="SKU-1", warehouse="WH1", level="1e13"),
        InvalidInput,
    ),
    "too-many-decimals": (
        lambda ledger: create_po(ledger, "PO-9", [("SKU-1", "1e-7")]),
        InvalidInput,
    ),
    "unknown-sku": (lambda ledger: create_po(ledger, "PO-9", [("SKU-404", "1")]), NotFound),
    "unknown-po": (
        lambda ledger: ledger.receive_purchase_order(meta(), number="PO-404", lines={1: "1"}),
        NotFound,
    ),
    "unknown-warehouse": (lambda ledger: reserve(ledger, warehouse="WH404"), NotFound),
}


def reserve(ledger: Ledger, **overrides: Any) -> Any:
    args = {"sku": "SKU-1", "warehouse": "WH1", "order_ref": "SO-1", "quantity_": "1", **overrides}
    return ledger.reserve(meta(), **args)


def count(ledger: Ledger, **overrides: Any) -> Any:
    args = {"sku": "SKU-1", "warehouse": "WH1", "counted": "1", "reason": "recount", **overrides}
    return ledger.count_stock(meta(), **args)


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_stores_nothing(ledger: Ledger, case: str) -> None:
    command, error = BAD_INPUT[case]
    produce(ledger, "SKU-1", "10")
    head = ledger.head()
    with pytest.raises(error):
        command(ledger)
    assert ledger.head() == head
    assert len(stored_events(ledger)) == head
