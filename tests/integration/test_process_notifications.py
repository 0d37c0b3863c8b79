"""The process engine's notifications, to a real SMTP server on SQLite and PostgreSQL: an
approver learns an order waits for their level; a stage's responsible role learns an order
overstayed its SLA."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from api.settings import Settings
from domain.ledger import Ledger
from domain.values import Meta
from tests.conftest import command_meta as meta
from tests.integration.helpers import produce, settle
from tests.integration.orders import create
from tests.integration.test_notifications import customer_and_stock, running
from tests.receivers import smtp_server, wait_until

ROLES = {
    "sales_director": ["director@example.com"],
    "finance": ["finance@example.com"],
    "warehouse": ["warehouse@example.com"],
}
POLICY = {
    "rules": [
        {"name": "large", "when": {"amount_over": "5"}, "levels": ["sales_director", "finance"]}
    ]
}


def with_role(command: str, role: str) -> Meta:
    return replace(meta(command), role=role)


def test_each_approval_level_emails_its_approvers_once(settings: Settings) -> None:
    with (
        smtp_server() as (mailbox, port),
        running(settings, smtp_host="127.0.0.1", smtp_port=port, role_emails=ROLES) as runtime,
    ):
        ledger: Ledger = runtime.ledger
        customer_and_stock(ledger)
        ledger.publish_approval_policy(meta("publish_approval_policy"), policy=POLICY)
        create(ledger, "SO-1", [("SKU-1", "4")])  # 4 × 2.50 = 10.00 > 5: two levels

        ledger.submit_sales_order(meta("submit_sales_order"), number="SO-1")
        settle(runtime)
        runtime.dispatcher.dispatch_once()
        (first,) = mailbox.to("director@example.com")
        assert first["Subject"] == "Approval needed: order SO-1 (level 1, sales_director)"
        assert mailbox.to("finance@example.com") == []

        ledger.approve_sales_order(with_role("approve", "sales_director"), number="SO-1")
        settle(runtime)
        runtime.dispatcher.dispatch_once()
        (second,) = mailbox.to("finance@example.com")
        assert second["Subject"] == "Approval needed: order SO-1 (level 2, finance)"
        assert "waiting for approval at level 2 by finance" in second.get_content()

        runtime.dispatcher.dispatch_once()
        assert len(mailbox.to("director@example.com")) == 1  # nothing sent twice


def test_an_sla_breach_emails_the_role_responsible_for_the_stage(settings: Settings) -> None:
    with (
        smtp_server() as (mailbox, port),
        running(settings, smtp_host="127.0.0.1", smtp_port=port, role_emails=ROLES) as runtime,
    ):
        ledger: Ledger = runtime.ledger
        customer_and_stock(ledger)
        produce(ledger, "SKU-1", "10", ref="MO-2")
        create(ledger, "SO-1", [("SKU-1", "4")])
        three_days_ago = datetime.now(UTC) - timedelta(days=3)
        # No approval needed: approved and stock confirmed three days ago (SLA 48 h).
        ledger.submit_sales_order(
            meta("submit_sales_order"), number="SO-1", effective_at=three_days_ago
        )
        settle(runtime)

        assert runtime.sla.scan().recorded == 1
        settle(runtime)
        wait_until(
            lambda: runtime.dispatcher.dispatch_once() == 0 and mailbox.to("warehouse@example.com"),
            10,
            "the breach e-mail",
        )

        (message,) = mailbox.to("warehouse@example.com")
        assert message["Subject"].startswith("SLA breached: order SO-1 in stock_confirmed")
        assert "warehouse is responsible for this stage" in message.get_content()
        assert runtime.sla.scan().recorded == 0
