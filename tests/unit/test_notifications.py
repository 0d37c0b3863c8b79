"""Notification messages, ids, signatures and back-off, without a database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import orjson
import pytest

from api.channels import Sent, email_message, sign, webhook_body, webhook_headers
from api.notifier import RetryPolicy
from domain.sales_orders import SalesOrder
from projections.deliveries import Claimed
from projections.directory import Directory
from projections.outbox import (
    ID_PATTERN,
    Kind,
    Routing,
    Webhook,
    notification_id,
    order_shipped,
    role_notice,
)
from projections.store import Cursor

AT = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def shipped_order() -> tuple[list[Any], Any]:
    """SO-7 for C-1: line 1 (2 × SKU-A) and line 2 (5 × SKU-B); 2 + 3 ship with UPS."""
    order = SalesOrder(
        number="SO-7", customer="C-1", warehouse="WH1", currency="EUR", requirements={},
        lines=[
            {"line_no": 1, "sku": "SKU-A", "quantity": Decimal(2), "unit_price": Decimal(1)},
            {"line_no": 2, "sku": "SKU-B", "quantity": Decimal(5), "unit_price": Decimal(1)},
        ],
        requested_delivery=None, promised_date=None, salesperson="ann", region="north",
        channel="api", external_ref=None, workflow="standard", workflow_version=1,
        stage="created", stage_role="sales", sla_due_at=None,
    )  # fmt: skip
    order.submit([], {}, 1, AT)
    order.allocate({1: Decimal(2), 2: Decimal(5)}, {}, AT)
    order.ship("SH-9", {1: Decimal(2), 2: Decimal("3.0")}, "UPS", "1Z999", AT)
    events = order.collect_events()
    return events[:-1], events[-1]


def directory(roles: dict[str, tuple[str, ...]] | None = None) -> Directory:
    """Nothing is looked up in a table: everything asked for here is known in memory."""
    known = {"C-1": ("eve@example.org", "bob@example.org")}
    return Directory(cast(Cursor, None), ("c", "o"), known, {}, roles or {})


def claimed(**fields: Any) -> Claimed:
    values: dict[str, Any] = {
        "notification_id": "42-order.shipped-webhook-0123456789abcdef", "kind": "order.shipped",
        "channel": "webhook", "recipient": "http://127.0.0.1:1/h", "order_number": "SO-7",
        "subject": "Order SO-7 shipped", "body": "text", "payload": '{"carrier":"UPS"}',
        "created_at": AT.isoformat(), "attempts": 0, "requeued_after": 0,
    }  # fmt: skip
    return Claimed(**{**values, **fields})


def test_a_shipment_notice_names_carrier_tracking_and_lines_for_every_contact() -> None:
    before, shipped = shipped_order()
    known = directory()
    for e in before:
        known.record(e)

    notice = order_shipped(shipped, known)

    assert notice is not None
    assert notice.emails == ("eve@example.org", "bob@example.org")
    assert notice.order_number == "SO-7"
    assert notice.subject == "Order SO-7 shipped with UPS, tracking 1Z999"
    assert "Carrier: UPS\nTracking number: 1Z999\n" in notice.body
    assert "line 1: 2 × SKU-A\n  line 2: 3 × SKU-B" in notice.body
    assert "shipped in part" in notice.body  # 2 of line 2 are still to come
    assert notice.payload["lines"] == [
        {"line_no": 1, "sku": "SKU-A", "quantity": "2"},
        {"line_no": 2, "sku": "SKU-B", "quantity": "3"},
    ]
    assert (notice.payload["carrier"], notice.payload["complete"]) == ("UPS", False)
    orjson.dumps(notice.payload)  # storable as it is


def test_a_role_notice_goes_to_every_address_of_the_role_and_none_for_an_unknown_role() -> None:
    known = directory({"sales_director": ("dir@example.com", "deputy@example.com")})

    notice = role_notice(known, "sales_director", "Approve SO-7", "Please approve.", {"n": 1})
    nobody = role_notice(known, "approver", "Approve SO-7", "Please approve.", {"n": 1})

    assert notice.emails == ("dir@example.com", "deputy@example.com")
    assert nobody.emails == ()


def test_webhooks_receive_only_the_kinds_they_subscribed_to_once_per_url() -> None:
    routing = Routing(
        webhooks=(
            Webhook("http://a/", frozenset({"order.shipped"})),
            Webhook("http://b/", frozenset({"order.sla_breach"})),
            Webhook("http://a/", frozenset({"order.shipped", "order.sla_breach"})),
        )
    )

    assert routing.subscribers("order.shipped") == ["http://a/"]
    assert routing.subscribers("order.sla_breach") == ["http://b/", "http://a/"]
    assert routing.subscribers("order.approval_needed") == []


def test_notification_ids_are_stable_safe_and_distinct_per_recipient_and_channel() -> None:
    first = notification_id(42, "order.shipped", "email", "eve@example.org")

    assert first == notification_id(42, "order.shipped", "email", "eve@example.org")
    assert re.match(ID_PATTERN, first)
    assert "eve" not in first
    assert first.startswith("42-order.shipped-email-")
    others = {
        notification_id(43, "order.shipped", "email", "eve@example.org"),
        notification_id(42, "order.shipped", "email", "bob@example.org"),
        notification_id(42, "order.shipped", "webhook", "eve@example.org"),
        notification_id(42, "order.sla_breach", "email", "eve@example.org"),
    }
    assert first not in others
    assert len(others) == 4


def test_a_kind_name_must_fit_into_ids_and_headers() -> None:
    with pytest.raises(ValueError, match="kind"):
        Kind("Order Shipped", SalesOrder, order_shipped)


def test_the_signature_is_hmac_sha256_of_the_exact_body() -> None:
    # RFC 4231, test case 2
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_every_attempt_of_a_webhook_sends_the_same_signed_bytes_under_the_same_id() -> None:
    first, again = claimed(), claimed(attempts=3)

    body = webhook_body(first)

    assert body == webhook_body(again)
    assert orjson.loads(body) == {
        "id": first.notification_id, "event": "order.shipped", "created_at": AT.isoformat(),
        "order_number": "SO-7", "data": {"carrier": "UPS"},
    }  # fmt: skip
    headers = webhook_headers(again, body, "k")
    assert headers["X-OrderLedger-Delivery"] == first.notification_id
    assert headers["X-OrderLedger-Event"] == "order.shipped"
    assert headers["X-OrderLedger-Signature"] == sign("k", body)


def test_an_email_carries_a_message_id_made_from_the_notification_id() -> None:
    message = email_message(claimed(channel="email", recipient="eve@example.org"), "l@ex.com")

    assert message["Message-ID"] == "<42-order.shipped-webhook-0123456789abcdef@ex.com>"
    assert (message["To"], message["Subject"]) == ("eve@example.org", "Order SO-7 shipped")
    assert message.get_content() == "text\n"


def test_back_off_doubles_from_the_setting_up_to_its_cap() -> None:
    policy = RetryPolicy(backoff_seconds=30, max_backoff_seconds=200, max_attempts=8)

    delays = [policy.delay(n).total_seconds() for n in range(1, 6)]

    assert delays == [30, 60, 120, 200, 200]


def test_the_last_allowed_failure_gives_up_and_a_requeue_starts_counting_again() -> None:
    policy = RetryPolicy(backoff_seconds=1, max_backoff_seconds=60, max_attempts=3)
    failed = Sent(False, "HTTP 500", 500)

    second = policy.settle(claimed(attempts=1), failed, AT)
    third = policy.settle(claimed(attempts=2), failed, AT)
    after_requeue = policy.settle(claimed(attempts=3, requeued_after=3), failed, AT)
    delivered = policy.settle(claimed(attempts=2), Sent(True, http_status=204), AT)

    assert (second.status, second.next_attempt_at) == ("pending", AT + timedelta(seconds=2))
    assert (third.status, third.outcome, third.error) == ("failed", "failed", "HTTP 500")
    assert (after_requeue.status, after_requeue.next_attempt_at) == (
        "pending", AT + timedelta(seconds=1),
    )  # fmt: skip
    assert (delivered.status, delivered.http_status, delivered.error) == ("delivered", 204, None)
