"""A two-year order history as read-model rows, for the dashboard's benchmark.

Recording 100,000 orders by command would take most of an hour per store, so the rows the
dashboard reads are made here, as the projections would write them, and bulk-loaded
(COPY on PostgreSQL, multi-row INSERT on SQLite): the KPI facts (`kpi_*`), the orders
(`sales_orders`, for the late list), receivables with their invoices and allocations,
production orders and credit holds. The KPI period totals (`kpi_totals`) are summed here
with the projection's own functions (projections/kpi_totals.py). Each order walks the
standard workflow's stages with random stays; most are delivered and completed, some
cancelled, a few stuck past their stage's SLA (late now). Taken times are spread over the
two years ending today, a fifth of them written with a +02:00 offset, so periods are cut
on the UTC day as in production.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from projections import kpi_totals, kpis
from projections import kpi_totals as totals
from projections.kpis import product_line
from projections.orders import ORDER_COLUMNS as SALES_ORDER_COLUMNS
from projections.receivables import ALLOCATION_COLUMNS, COLUMNS, INVOICE_COLUMNS

DAYS = 730
REGIONS = ("north", "south", "east", "west", "central")
SALESPEOPLE = tuple(f"sales.{n:02d}" for n in range(1, 21))
FAMILIES = ("BRK", "VLV", "CBL", "PNL", "GSK", "MTR", "SNS", "PMP", "FLT", "RSN")
CUSTOMERS = 2_000
TAX = Decimal("0.19")
CEST = timezone(timedelta(hours=2))
# The standard workflow's stages: (stage, responsible role, SLA hours, stay in hours).
STAGES = {
    "created": ("sales", 24, (0.5, 30)),
    "awaiting_approval": ("sales_director", 24, (1, 48)),
    "approved": ("warehouse", 4, (0.1, 6)),
    "stock_confirmed": ("warehouse", 48, (1, 60)),
    "production_scheduled": ("production", 120, (24, 150)),
    "production_complete": ("production", 24, (1, 30)),
    "qc_passed": ("warehouse", 48, (1, 40)),
    "shipped": ("warehouse", 240, (20, 280)),
    "delivered": ("sales", 72, (1, 70)),
}
STATUS = {
    "created": "created", "awaiting_approval": "created", "approved": "approved",
    "stock_confirmed": "approved", "production_scheduled": "approved",
    "production_complete": "approved", "qc_passed": "approved", "shipped": "shipped",
    "delivered": "delivered", "completed": "delivered", "cancelled": "cancelled",
}  # fmt: skip
RECEIVABLE_COLUMNS = [*COLUMNS, "invoice_number", "invoice_date", "due_date"]
PRODUCTION_COLUMNS = [
    "production_id", "number", "sku", "warehouse", "quantity", "produced", "status",
    "sales_order", "line_no", "version", "created_at", "updated_at",
]  # fmt: skip
CREDIT_COLUMNS = [
    "order_id", "number", "customer", "currency", "status", "submitted", "lines", "shipped",
    "open_value", "counted", "held_at", "hold", "released_at", "release", "position",
]  # fmt: skip


@dataclass
class History:
    """Rows per table (in the tables' column order), and a few totals to check against."""

    today: date
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))
    value: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    totals: kpi_totals.Contribution = field(default_factory=kpi_totals.Contribution)
    delivered: int = 0
    late_now: int = 0

    @property
    def first_day(self) -> date:
        return self.today - timedelta(days=DAYS)


COLUMNS_OF = {
    "kpi_orders": kpis.ORDER_COLUMNS,
    "kpi_order_lines": ["number", "product_line", "amount"],
    "kpi_stage_stays": kpis.STAY_COLUMNS,
    "kpi_qc": kpis.QC_COLUMNS,
    "kpi_complaints": kpis.COMPLAINT_COLUMNS,
    "kpi_totals": kpi_totals.COLUMNS,
    "sales_orders": SALES_ORDER_COLUMNS,
    "receivables": RECEIVABLE_COLUMNS,
    "invoices": INVOICE_COLUMNS,
    "allocations": ALLOCATION_COLUMNS,
    "production_orders": PRODUCTION_COLUMNS,
    "credit_orders": CREDIT_COLUMNS,
}


def history(orders: int, *, now: datetime, seed: int = 20261126) -> History:
    rng = random.Random(seed)
    made = History(now.date())
    start = datetime.combine(made.first_day, datetime.min.time(), UTC)
    for n in range(orders):
        taken = start + timedelta(seconds=rng.randrange(DAYS * 86400))
        _Order(rng, made, n, taken, now).record()
    made.rows["kpi_totals"] = [
        (kpi_totals.group_id(group), *group, numerator.quantize(kpi_totals.PLACES),
         denominator.quantize(kpi_totals.PLACES), orders)
        for group, (numerator, denominator, orders) in made.totals.sums.items()
    ]  # fmt: skip
    made.totals = kpi_totals.Contribution()  # not kept on the heap while timing
    return made


class _Order:
    """One order's story, written as the projections would have written it."""

    def __init__(self, rng: random.Random, made: History, n: int, taken: datetime,
                 now: datetime) -> None:  # fmt: skip
        self.rng, self.made, self.n, self.now = rng, made, n, now
        self.number = f"SO-{n + 1:07d}"
        self.taken = taken.astimezone(CEST) if rng.random() < 0.2 else taken
        customer = rng.randrange(CUSTOMERS)
        self.customer = f"C-{customer:04d}"
        self.region = REGIONS[customer % len(REGIONS)]
        self.salesperson = SALESPEOPLE[rng.randrange(len(SALESPEOPLE))]
        self.currency = "EUR" if rng.random() < 0.9 else "USD"
        self.lines = {
            family: Decimal(rng.randrange(2_000, 900_000)) / 100
            for family in rng.sample(FAMILIES, rng.randint(1, 3))
        }
        self.total = sum(self.lines.values(), Decimal(0))
        promised = self.taken.date() + timedelta(days=rng.randint(6, 24))
        self.promised = promised.isoformat() if rng.random() < 0.85 else None
        self.made_to_order = rng.random() < 0.12

    def record(self) -> None:
        rng = self.rng
        path = ["created", *(["awaiting_approval"] if rng.random() < 0.3 else []), "approved",
                "stock_confirmed"]  # fmt: skip
        if self.made_to_order:
            path += ["production_scheduled", "production_complete", "qc_passed"]
        path += ["shipped", "delivered"]
        cancel_after = rng.randrange(1, 4) if rng.random() < 0.03 else None
        stuck = rng.randrange(len(path) - 1) if rng.random() < 0.005 else None
        entered, stage, delivered_at, shipped_at = self.taken, path[0], None, None
        stays: list[tuple[str, datetime, datetime]] = []
        for step, stage in enumerate(path):
            if cancel_after == step:
                stays.append((stage, entered, entered + timedelta(hours=1)))
                entered, stage = entered + timedelta(hours=1), "cancelled"
                break
            if stage == "delivered":
                delivered_at = entered
            if stage == "shipped":
                shipped_at = entered
            low, high = STAGES[stage][2]
            hours = rng.uniform(low, high)
            left = entered + timedelta(seconds=round(hours * 3600))
            if left > self.now or stuck == step:  # still in the stage
                break
            stays.append((stage, entered, left))
            entered = left
            stage = "completed" if stage == "delivered" else path[step + 1]
        self._facts(stays, stage, entered, delivered_at, shipped_at)

    def _facts(self, stays: list[tuple[str, datetime, datetime]], stage: str,
               entered: datetime, delivered_at: datetime | None,
               shipped_at: datetime | None) -> None:  # fmt: skip
        made, cancelled = self.made, stage == "cancelled"
        order_id = str(uuid.UUID(int=self.n + 1))
        lines = {product_line(f"{family}-1"): amount for family, amount in self.lines.items()}
        for line, amount in sorted(lines.items()):
            made.rows["kpi_order_lines"].append((self.number, line, amount))
        by_day: dict[tuple[str, str], list[Any]] = {}
        for k, (name, came, left) in enumerate(stays):
            seconds = totals.seconds_between(came, left)
            day = totals.utc_day(left)
            made.rows["kpi_stage_stays"].append((self.n * 20 + k + 1, self.number, name, came,
                                                 left, day, seconds))  # fmt: skip
            summed = by_day.setdefault((name, str(day)), [name, day, Decimal(0), 0])
            summed[2] += seconds
            summed[3] += 1
        complaints = 0
        if delivered_at is not None and not cancelled:
            made.delivered += 1
            complaints = self._complaint(delivered_at)
        order = {
            "order_id": order_id, "number": self.number, "customer": self.customer,
            "region": self.region, "salesperson": self.salesperson, "currency": self.currency,
            "total": self.total, "taken_at": self.taken, "taken_day": totals.utc_day(self.taken),
            "promised_date": self.promised, "delivered_at": delivered_at,
            "delivered_day": totals.utc_day(delivered_at), "cancelled": 1 if cancelled else 0,
            "complaints": complaints, "stage": stage, "stage_entered_at": entered,
            "stays": sorted([n, d, str(x), c] for n, d, x, c in by_day.values()),
        }  # fmt: skip
        made.rows["kpi_orders"].append(tuple(
            json.dumps(order[c]) if c == "stays" else order[c] for c in kpis.ORDER_COLUMNS
        ))  # fmt: skip
        if not cancelled:
            made.value[self.currency] += self.total
        checks = self._production(stays, stage)
        for facts in (totals.order_facts(order, lines), totals.stay_facts(order, lines),
                      totals.qc_facts(order, lines, checks)):  # fmt: skip
            made.totals.merge(facts, 1)
        self._sales_order(order_id, stage, entered, delivered_at)
        if shipped_at is not None and not cancelled:
            self._billing(shipped_at)

    def _complaint(self, delivered_at: datetime) -> int:
        if self.rng.random() < 0.05:
            at = delivered_at + timedelta(days=self.rng.randint(1, 12))
            if at <= self.now:
                category = self.rng.choice(("late", "quality", "damaged", "quantity"))
                self.made.rows["kpi_complaints"].append((f"{self.number}-C1", self.number,
                                                         category, at))  # fmt: skip
                return 1
        return 0

    def _production(self, stays: list[tuple[str, datetime, datetime]],
                    stage: str) -> list[dict[str, Any]]:  # fmt: skip
        if not self.made_to_order:
            return []
        production_id, number = str(uuid.UUID(int=10**9 + self.n)), f"PRD-{self.n + 1:07d}"
        checked = next((left for name, _, left in stays if name == "production_complete"), None)
        passed = None if checked is None else (1 if self.rng.random() < 0.9 else 0)
        check = {
            "production_id": production_id, "production_number": number,
            "sales_order": self.number, "first_passed": passed, "checked_at": checked,
            "checked_day": totals.utc_day(checked),
        }  # fmt: skip
        self.made.rows["kpi_qc"].append(tuple(check[c] for c in kpis.QC_COLUMNS))
        status = ("received" if checked is not None else
                  "completed" if stage == "production_complete" else "scheduled")  # fmt: skip
        came = self.taken
        self.made.rows["production_orders"].append((
            production_id, number, f"{next(iter(self.lines))}-1", "WH-1", Decimal(10),
            Decimal(10) if status == "received" else None, status, self.number, 1, 3, came,
            checked or came,
        ))  # fmt: skip
        return [check]

    def _sales_order(self, order_id: str, stage: str, entered: datetime,
                     delivered_at: datetime | None) -> None:  # fmt: skip
        role, sla, _ = STAGES.get(stage, ("sales", None, None))
        due = None if sla is None else entered + timedelta(hours=sla)
        if due is not None and due <= self.now:
            self.made.late_now += 1
        status = STATUS[stage]
        qty = Decimal(10)
        self.made.rows["sales_orders"].append((
            order_id, self.number, self.customer, "WH-1", status, stage, role,
            "sales_director" if stage == "awaiting_approval" else None, "standard", 1, due,
            None, self.currency, self.total, qty,
            qty if status in ("shipped", "delivered") else Decimal(0),
            qty if delivered_at is not None else Decimal(0), self.salesperson, self.region,
            "api", None, None, self.promised, 6, self.taken, entered, entered,
        ))  # fmt: skip
        if due is not None and due <= self.now and self.rng.random() < 0.1:
            self.made.rows["credit_orders"].append((
                order_id, self.number, self.customer, self.currency, status, True, "{}", "{}",
                self.total, self.total, entered, '{"reason": "over the limit"}', None, None,
                self.n,
            ))  # fmt: skip

    def _billing(self, shipped_at: datetime) -> None:
        """One shipment (a tenth of orders: two), invoiced within three days, paid (most of
        it) some weeks later; invoices and payments dated after today are not made."""
        rng, made = self.rng, self.made
        dated = shipped_at.astimezone(UTC).date() + timedelta(days=rng.randint(0, 3))
        if dated > made.today:
            return
        invoice = f"INV-{self.n + 1:07d}"
        parts = [self.total] if rng.random() < 0.9 else [
            (self.total / 2).quantize(Decimal("0.01")),
            self.total - (self.total / 2).quantize(Decimal("0.01")),
        ]  # fmt: skip
        nets = taxes = Decimal(0)
        for k, net in enumerate(parts, 1):
            tax = (net * TAX).quantize(Decimal("0.01"))
            nets, taxes = nets + net, taxes + tax
            made.rows["receivables"].append((
                str(uuid.UUID(int=2 * 10**9 + self.n * 4 + k)), self.n * 4 + k, self.number,
                f"SH-{self.n}-{k}", self.customer, self.currency, net, tax, net + tax,
                "invoiced", shipped_at, shipped_at, 2, invoice, dated.isoformat(),
                (dated + timedelta(days=30)).isoformat(),
            ))  # fmt: skip
        made.rows["invoices"].append((
            invoice, self.n, self.customer, self.currency, nets, taxes, nets + taxes,
            dated.isoformat(), (dated + timedelta(days=30)).isoformat(), len(parts), shipped_at,
        ))  # fmt: skip
        if rng.random() < 0.75:
            paid = dated + timedelta(days=rng.randint(5, 70))
            if paid <= made.today:
                made.rows["allocations"].append((
                    f"{invoice}-A1", f"BANK-{self.n}", invoice, nets + taxes, "manual",
                    paid.isoformat(), None, None, shipped_at,
                ))  # fmt: skip
