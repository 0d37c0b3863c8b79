"""The delivery log over HTTP: filters, cursor pages, one notification with its attempts,
re-queueing a failed one, and bad input answered as problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.notifier import NO_SMTP
from api.settings import Settings, WebhookSubscription
from tests.api.conftest import Api, assert_problem, open_api
from tests.api.test_shipments import CUSTOMER, shipment
from tests.receivers import WebhookReceiver, webhook_receiver

UNKNOWN_ID = "999-order.shipped-email-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Refuses the first delivery (500), accepts every later one."""
    with webhook_receiver([500]) as started:
        yield started


@pytest.fixture
def notifying(settings: Settings, receiver: WebhookReceiver) -> Iterator[Api]:
    """The API with one webhook and no SMTP server; one attempt per notification before it
    fails; dispatch is driven by the test."""
    hook = WebhookSubscription(url=receiver.url, secret="k", events=["order.shipped"])
    configured = settings.model_copy(
        update={"webhooks": [hook], "notify_max_attempts": 1, "run_notifications": False}
    )
    with open_api(configured) as api:
        yield api


@pytest.fixture
def shipped(notifying: Api) -> int:
    """SO-1 for C-1 (contact eve@example.org): 2 of 4 × SKU-1 shipped; the log position."""
    api = notifying
    api.warehouse("WH-1")
    api.product("SKU-1")
    api.produce("SKU-1", "WH-1", "10")
    api.ok("/customers", CUSTOMER, 201)
    order = {
        "number": "SO-1", "customer": "C-1", "warehouse": "WH-1", "salesperson": "ann",
        "lines": [{"sku": "SKU-1", "quantity": "4", "unit_price": "2.50"}],
    }  # fmt: skip
    api.ok("/sales-orders", order, 201)
    api.ok("/sales-orders/SO-1/submit")
    position: int = api.ok("/sales-orders/SO-1/shipments", shipment([(1, "2")]), 201)["position"]
    return position


def log(api: Api, position: int, **filters: Any) -> dict[str, Any]:
    found: dict[str, Any] = api.read("/notifications", min_position=position, **filters)
    return found


def test_a_shipment_shows_in_the_log_as_an_email_waiting_for_smtp_and_a_pending_webhook(
    notifying: Api, shipped: int
) -> None:
    items = log(notifying, shipped)["items"]

    assert [(i["channel"], i["status"], i["attempts"]) for i in items] == [
        ("email", "pending", []), ("webhook", "pending", []),
    ]  # fmt: skip
    email = next(i for i in items if i["channel"] == "email")
    assert (email["recipient"], email["kind"], email["order_number"]) == (
        "eve@example.org", "order.shipped", "SO-1",
    )  # fmt: skip
    assert "TRK-SH-1" in email["subject"]
    notifying.runtime.dispatcher.dispatch_once()
    email = notifying.read(f"/notifications/{email['id']}")
    assert (email["status"], email["last_error"]) == ("pending", NO_SMTP)


def test_a_failed_webhook_shows_its_attempt_and_a_retry_delivers_it(
    notifying: Api, shipped: int, receiver: WebhookReceiver
) -> None:
    api = notifying
    (webhook,) = log(api, shipped, channel="webhook")["items"]
    assert api.runtime.dispatcher.dispatch_once() == 1

    failed = api.read(f"/notifications/{webhook['id']}")

    assert (failed["status"], failed["recipient"]) == ("failed", receiver.url)
    assert failed["payload"]["tracking_number"] == "TRK-SH-1"
    assert "Carrier: DHL" in failed["body"]
    attempts = [(a["attempt"], a["outcome"], a["http_status"]) for a in failed["attempts"]]
    assert attempts == [(1, "failed", 500)]
    assert failed["attempts"][0]["error"] == failed["last_error"] == "HTTP 500"
    assert log(api, shipped, status="failed")["items"][0]["id"] == webhook["id"]

    response = api.post(f"/notifications/{webhook['id']}/retry")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"
    assert api.runtime.dispatcher.dispatch_once() == 1
    delivered = api.read(f"/notifications/{webhook['id']}")
    assert delivered["status"] == "delivered"
    assert [a["outcome"] for a in delivered["attempts"]] == ["failed", "delivered"]
    assert [r.answered for r in receiver.received()] == [500, 200]
    again = api.post(f"/notifications/{webhook['id']}/retry")
    assert_problem(again, 409, "notification-status")


def test_the_log_filters_by_status_kind_order_and_channel(notifying: Api, shipped: int) -> None:
    api = notifying

    def ids(**filters: Any) -> list[str]:
        return [i["channel"] for i in log(api, shipped, **filters)["items"]]

    assert sorted(ids()) == ["email", "webhook"]
    assert ids(channel="email") == ["email"]
    assert sorted(ids(kind="order.shipped", order_number="SO-1")) == ["email", "webhook"]
    assert ids(order_number="SO-2") == []
    assert ids(kind="order.sla_breach") == []
    assert ids(status="delivered") == []
    assert sorted(ids(status="pending")) == ["email", "webhook"]


def test_the_log_pages_with_a_cursor(notifying: Api, shipped: int) -> None:
    first = log(notifying, shipped, limit=1)
    second = log(notifying, shipped, limit=1, after=first["next_cursor"])
    third = log(notifying, shipped, limit=1, after=second["next_cursor"])

    assert first["next_cursor"] == first["items"][0]["id"]
    assert second["items"][0]["id"] != first["items"][0]["id"]
    assert (third["items"], third["next_cursor"]) == ([], None)
    everything = log(notifying, shipped)
    assert [i["id"] for i in everything["items"]] == [first["next_cursor"], second["next_cursor"]]
    assert everything["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "status", "rule"),
    [
        (f"/notifications/{UNKNOWN_ID}", 404, "not-found"),
        ("/notifications/not-an-id", 422, "invalid-input"),
        ("/notifications?status=lost", 422, "invalid-input"),
        ("/notifications?channel=sms", 422, "invalid-input"),
        ("/notifications?kind=Order%20Shipped", 422, "invalid-input"),
        ("/notifications?after=7", 422, "invalid-input"),
        ("/notifications?limit=0", 422, "invalid-input"),
    ],
)
def test_bad_reads_are_problems(notifying: Api, path: str, status: int, rule: str) -> None:
    assert_problem(notifying.client.get(path), status, rule)


def test_retrying_what_is_not_failed_or_does_not_exist_is_refused(
    notifying: Api, shipped: int
) -> None:
    (email,) = log(notifying, shipped, channel="email")["items"]

    assert_problem(
        notifying.post(f"/notifications/{email['id']}/retry"), 409, "notification-status"
    )
    assert_problem(notifying.post(f"/notifications/{UNKNOWN_ID}/retry"), 404, "not-found")
    assert notifying.read(f"/notifications/{email['id']}")["status"] == "pending"
