"""Notifications on real SQLite and PostgreSQL, to a real SMTP server and a real HTTP receiver:
each (event, recipient) is sent once, retried with back-off until delivered, never sent again
by a rebuild, and never by two dispatchers at once."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from api.notifier import NO_SMTP
from api.runtime import Runtime, open_runtime
from api.settings import Settings, WebhookSubscription
from domain.ledger import Ledger
from projections import deliveries
from tests.conftest import command_meta as meta
from tests.integration.helpers import produce, rows, seed_catalog, settle
from tests.integration.orders import approve, create, race
from tests.receivers import smtp_server, wait_until, webhook_receiver

CONTACTS = [
    {"name": "Eve", "email": "eve@example.org"},
    {"name": "Bob", "email": "bob@example.org"},
    {"name": "Pat", "phone": "+49 30 1234"},  # no address: no e-mail
]
SECRET = "s3cret-for-tests"


@contextmanager
def running(settings: Settings, **overrides: Any) -> Iterator[Runtime]:
    """A runtime on the test's store; the test drives projections and dispatch itself."""
    runtime = open_runtime(
        settings.model_copy(update={"run_notifications": False, **overrides}),
        start_projections=False,
    )
    try:
        yield runtime
    finally:
        runtime.close()


def hook(url: str, *events: str) -> WebhookSubscription:
    return WebhookSubscription(url=url, secret=SECRET, events=list(events or ["order.shipped"]))


def customer_and_stock(ledger: Ledger) -> None:
    seed_catalog(ledger)
    ledger.register_customer(
        meta("register_customer"), code_="C-1", name="Contoso", contacts=CONTACTS,
        billing_address="1 Bill St", shipping_address="2 Ship Rd", region="north",
        payment_terms_days=30, credit_limit="5000", currency_code="EUR",
    )  # fmt: skip
    produce(ledger, "SKU-1", "100")


def ship_order(ledger: Ledger, number: str = "SO-1", ref: str = "SH-1") -> int:
    """An approved order of 4 × SKU-1, of which 3 ship with DHL; the shipment's position."""
    create(ledger, number, [("SKU-1", "4")])
    approve(ledger, number)
    outcome = ledger.ship_sales_order(
        meta("ship_sales_order"), number=number, lines={1: "3"}, carrier="DHL",
        tracking_number=f"TRK-{ref}", shipment_ref=ref,
    )  # fmt: skip
    return outcome.position


def delivery_state(runtime: Runtime) -> list[dict[str, Any]]:
    return rows(
        runtime,
        "SELECT d.notification_id, o.channel, o.recipient, d.status, d.attempts, d.last_error"
        " FROM notification_delivery d JOIN notification_outbox o"
        " ON o.notification_id = d.notification_id ORDER BY d.notification_id",
    )


def attempt_log(runtime: Runtime) -> list[tuple[Any, ...]]:
    return [
        (r["attempt"], r["outcome"], r["http_status"])
        for r in rows(runtime, "SELECT * FROM notification_attempts ORDER BY attempt")
    ]


def drain(runtime: Runtime, timeout: float = 10.0) -> None:
    """Dispatch until nothing that can be sent is pending or being sent (retries wait out
    their back-off; e-mail without an SMTP server waits for one)."""
    sendable = runtime.dispatcher.channels

    def settled() -> bool:
        runtime.dispatcher.dispatch_once()
        unsettled = ("pending", "sending")
        return not any(
            r["status"] in unsettled and r["channel"] in sendable for r in delivery_state(runtime)
        )

    wait_until(settled, timeout, "every notification to settle")


# -- e-mail --------------------------------------------------------------------------------------


def test_shipping_an_order_emails_every_contact_once_with_carrier_and_tracking(
    settings: Settings,
) -> None:
    with (
        smtp_server() as (mailbox, port),
        running(
            settings, smtp_host="127.0.0.1", smtp_port=port, smtp_from="ledger@example.com"
        ) as runtime,
    ):
        customer_and_stock(runtime.ledger)
        ship_order(runtime.ledger)
        settle(runtime)

        assert runtime.dispatcher.dispatch_once() == 2
        assert runtime.dispatcher.dispatch_once() == 0

        assert sorted(r for envelope in mailbox.envelopes for r in envelope) == [
            "bob@example.org", "eve@example.org",
        ]  # fmt: skip
        for address in ("eve@example.org", "bob@example.org"):
            (message,) = mailbox.to(address)
            text = message.get_content()
            assert "DHL" in message["Subject"]
            assert "TRK-SH-1" in message["Subject"]
            assert "Carrier: DHL" in text
            assert "Tracking number: TRK-SH-1" in text
            assert "line 1: 3 × SKU-1" in text
            assert "SO-1" in text
            assert message["From"] == "ledger@example.com"
            notification = message["X-OrderLedger-Delivery"]
            assert message["Message-ID"] == f"<{notification}@example.com>"
        assert {r["status"] for r in delivery_state(runtime)} == {"delivered"}
        assert attempt_log(runtime) == [(1, "delivered", None), (1, "delivered", None)]


def test_without_an_smtp_host_emails_stay_pending_with_the_reason_until_one_is_configured(
    settings: Settings,
) -> None:
    with running(settings) as runtime:
        customer_and_stock(runtime.ledger)
        ship_order(runtime.ledger)
        settle(runtime)

        assert runtime.dispatcher.dispatch_once() == 0

        state = delivery_state(runtime)
        assert [(r["channel"], r["status"], r["attempts"]) for r in state] == [
            ("email", "pending", 0), ("email", "pending", 0),
        ]  # fmt: skip
        assert {r["last_error"] for r in state} == {NO_SMTP}
        assert attempt_log(runtime) == []

    with smtp_server() as (mailbox, port), running(settings, smtp_port=port) as later:
        later.dispatcher.dispatch_once()  # still no host: nothing leaves
        assert mailbox.messages == []
    with (
        smtp_server() as (mailbox, port),
        running(settings, smtp_host="127.0.0.1", smtp_port=port) as configured,
    ):
        assert configured.dispatcher.dispatch_once() == 2
        assert len(mailbox.messages) == 2
        assert {r["status"] for r in delivery_state(configured)} == {"delivered"}


# -- webhooks ------------------------------------------------------------------------------------


def test_a_webhook_failing_twice_is_delivered_once_on_the_third_attempt_after_backing_off(
    settings: Settings,
) -> None:
    with (
        webhook_receiver([500, 500]) as receiver,
        running(
            settings,
            webhooks=[hook(receiver.url), hook("http://127.0.0.1:9/other", "order.other")],
            notify_backoff_seconds=0.2,
        ) as runtime,
    ):
        customer_and_stock(runtime.ledger)
        ship_order(runtime.ledger)
        settle(runtime)

        assert runtime.dispatcher.dispatch_once() == 1
        assert runtime.dispatcher.dispatch_once() == 0  # not due before its back-off
        drain(runtime)
        assert runtime.dispatcher.dispatch_once() == 0

        requests = receiver.received()
        assert [r.answered for r in requests] == [500, 500, 200]
        assert requests[1].at - requests[0].at >= 0.2
        assert requests[2].at - requests[1].at >= 0.4
        (webhook,) = [r for r in delivery_state(runtime) if r["channel"] == "webhook"]
        assert webhook["recipient"] == receiver.url  # the other subscription wants another kind
        assert (webhook["status"], webhook["attempts"]) == ("delivered", 3)
        assert {r.headers["X-OrderLedger-Delivery"] for r in requests} == {
            webhook["notification_id"]
        }
        assert len({r.body for r in requests}) == 1
        for request in requests:
            assert request.headers["Content-Type"] == "application/json"
            assert request.headers["X-OrderLedger-Event"] == "order.shipped"
            expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
            assert request.headers["X-OrderLedger-Signature"] == f"sha256={expected}"
        body = orjson.loads(requests[0].body)
        assert (body["event"], body["order_number"]) == ("order.shipped", "SO-1")
        assert (body["data"]["carrier"], body["data"]["tracking_number"]) == ("DHL", "TRK-SH-1")
        assert attempt_log(runtime) == [(1, "retry", 500), (2, "retry", 500), (3, "delivered", 200)]


def test_a_notification_fails_after_its_last_attempt_and_a_requeue_gives_it_fresh_attempts(
    settings: Settings,
) -> None:
    with (
        webhook_receiver([503, 503, 503]) as receiver,
        running(
            settings, webhooks=[hook(receiver.url)], notify_backoff_seconds=0.01,
            notify_max_attempts=3,
        ) as runtime,
    ):  # fmt: skip
        customer_and_stock(runtime.ledger)
        ship_order(runtime.ledger)
        settle(runtime)

        drain(runtime)

        (webhook,) = [r for r in delivery_state(runtime) if r["channel"] == "webhook"]
        assert (webhook["status"], webhook["attempts"], webhook["last_error"]) == (
            "failed", 3, "HTTP 503",
        )  # fmt: skip
        with runtime.store.transaction() as cur:
            assert deliveries.requeue(cur, webhook["notification_id"], datetime.now(UTC))
        drain(runtime)
        assert [r.answered for r in receiver.received()] == [503, 503, 503, 200]
        assert attempt_log(runtime)[-2:] == [(3, "failed", 503), (4, "delivered", 200)]


def test_a_webhook_that_cannot_be_reached_is_retried_with_the_connection_error(
    settings: Settings,
) -> None:
    with running(
        settings, webhooks=[hook("http://127.0.0.1:9/closed")], notify_backoff_seconds=60
    ) as runtime:
        customer_and_stock(runtime.ledger)
        ship_order(runtime.ledger)
        settle(runtime)

        assert runtime.dispatcher.dispatch_once() == 1

        (webhook,) = [r for r in delivery_state(runtime) if r["channel"] == "webhook"]
        assert (webhook["status"], webhook["attempts"]) == ("pending", 1)
        assert "ConnectError" in webhook["last_error"]
        assert runtime.dispatcher.dispatch_once() == 0


# -- rebuilds ------------------------------------------------------------------------------------


def test_rebuilding_the_outbox_sends_nothing_again(settings: Settings) -> None:
    with (
        smtp_server() as (mailbox, port),
        webhook_receiver() as receiver,
        running(
            settings, smtp_host="127.0.0.1", smtp_port=port, webhooks=[hook(receiver.url)]
        ) as runtime,
    ):
        customer_and_stock(runtime.ledger)
        ship_order(runtime.ledger)
        settle(runtime)
        drain(runtime)
        outbox = rows(runtime, "SELECT * FROM notification_outbox ORDER BY notification_id")
        state = delivery_state(runtime)
        assert (len(mailbox.messages), len(receiver.received()), len(state)) == (2, 1, 3)

        runtime.runner.rebuild("outbox")

        assert rows(runtime, "SELECT * FROM notification_outbox ORDER BY notification_id") == (
            outbox
        )
        assert delivery_state(runtime) == state
        assert runtime.dispatcher.dispatch_once() == 0
        assert (len(mailbox.messages), len(receiver.received())) == (2, 1)

        ship_order(runtime.ledger, "SO-2", "SH-2")  # the switched tables go on as the live ones
        settle(runtime)
        drain(runtime)
        assert (len(mailbox.messages), len(receiver.received())) == (4, 2)


def test_a_rebuild_never_sends_history_to_a_webhook_subscribed_since(settings: Settings) -> None:
    with running(settings) as before:
        customer_and_stock(before.ledger)
        ship_order(before.ledger)
        settle(before)
    with webhook_receiver() as receiver, running(settings, webhooks=[hook(receiver.url)]) as now:
        now.runner.rebuild("outbox")

        (old,) = [r for r in delivery_state(now) if r["channel"] == "webhook"]
        assert (old["status"], old["last_error"]) == ("skipped", deliveries.HISTORY)
        assert now.dispatcher.dispatch_once() == 0

        ship_order(now.ledger, "SO-2", "SH-2")
        settle(now)
        assert now.dispatcher.dispatch_once() == 1
        (request,) = receiver.received()
        assert orjson.loads(request.body)["order_number"] == "SO-2"


def test_a_ledger_with_a_history_before_it_had_notifications_does_not_send_that_history(
    settings: Settings,
) -> None:
    with running(settings) as before:
        customer_and_stock(before.ledger)
        ship_order(before.ledger)
        with before.store.transaction() as cur:  # as if made before notifications existed
            cur.execute("DELETE FROM notification_horizon")
    with webhook_receiver() as receiver, running(settings, webhooks=[hook(receiver.url)]) as now:
        settle(now)

        assert {(r["status"], r["last_error"]) for r in delivery_state(now)} == {
            ("skipped", deliveries.HISTORY)
        }
        assert now.dispatcher.dispatch_once() == 0

        ship_order(now.ledger, "SO-2", "SH-2")
        settle(now)
        assert now.dispatcher.dispatch_once() == 1
        assert [orjson.loads(r.body)["order_number"] for r in receiver.received()] == ["SO-2"]


def test_a_rebuild_while_the_outbox_lags_sends_what_the_live_outbox_had_not_reached(
    settings: Settings,
) -> None:
    with webhook_receiver() as receiver, running(settings, webhooks=[hook(receiver.url)]) as rt:
        customer_and_stock(rt.ledger)
        shipped_at = ship_order(rt.ledger)
        settle(rt)
        ship_order(rt.ledger, "SO-2", "SH-2")
        rt.runner.catch_up("outbox", until=shipped_at + 1)

        rt.runner.rebuild("outbox")
        drain(rt)

        bodies = [orjson.loads(r.body) for r in receiver.received()]
        assert sorted(b["order_number"] for b in bodies) == ["SO-1", "SO-2"]


# -- several dispatchers -------------------------------------------------------------------------


def test_two_dispatchers_racing_send_every_notification_exactly_once(settings: Settings) -> None:
    with (
        smtp_server() as (mailbox, port),
        webhook_receiver() as receiver,
        running(
            settings, smtp_host="127.0.0.1", smtp_port=port,
            webhooks=[hook(receiver.url), hook(receiver.url + "?copy=2")],
        ) as first,
        running(
            settings, smtp_host="127.0.0.1", smtp_port=port,
            webhooks=[hook(receiver.url), hook(receiver.url + "?copy=2")],
        ) as second,
    ):  # fmt: skip
        customer_and_stock(first.ledger)
        for n in range(8):
            ship_order(first.ledger, f"SO-{n}", f"SH-{n}")
        settle(first)

        def dispatch_until_idle(n: int) -> int:
            dispatcher = (first, second)[n].dispatcher
            total = 0
            while attempts := dispatcher.dispatch_once():
                total += attempts
            return total

        counts = race(2, dispatch_until_idle)

        assert sum(counts) == 32, counts  # 8 shipments × (2 contacts + 2 webhooks)
        delivered = [r.headers["X-OrderLedger-Delivery"] for r in receiver.received()]
        delivered += [m["X-OrderLedger-Delivery"] for m in mailbox.messages]
        assert len(delivered) == len(set(delivered)) == 32
        assert {(r["status"], r["attempts"]) for r in delivery_state(first)} == {("delivered", 1)}
