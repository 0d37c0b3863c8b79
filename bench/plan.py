"""How much each run does: the full run for the results page, the quick one for smoke tests."""

from __future__ import annotations

from dataclasses import dataclass

HOT_WARMUP = 50


@dataclass(frozen=True)
class Plan:
    """How much to do per store; command counts are per round."""

    rounds: int
    creates: int
    spread: int  # aggregates (ids, SKUs) the updates and reservations are spread over
    updates: int
    reservations: int
    hot_reservations: int
    transfers: int
    transfer_spread: int
    events: int
    projection_items: int
    projection_repeats: int
    timeline_orders: int  # orders taken through their lifecycle by command for the order log
    sla_open: int  # open orders in the read model the SLA monitor scans
    sla_real: int  # of which recorded by command (a quarter of them late); the rest synthetic
    sla_repeats: int
    match_payments: int  # the matching engine: payments against open items of customers
    match_items: int
    match_customers: int
    match_apply: int  # payments auto-matched and applied through the ledger, per store
    ageing_invoices: int = 100_000  # invoices in the receivables read model, bulk-loaded
    ageing_repeats: int = 9
    chain_events: int = 100_000  # the log the hash chain is linked and verified over
    asof_events: int = 1_000_000  # the log inventory is replayed over, as of past positions
    asof_repeats: int = 3
    rebuild_events: int = 1_000_000  # the mixed log every read model is rebuilt from
    asof_every: int = 5_000  # read-model checkpoint interval (the setting's default)
    cipher_appends: int = 500  # appends per round with the cipher off and on
    cipher_events: int = 20_000  # the log read, verified and rotated with the cipher off and on
    import_rows: int = 50_000  # rows of the products XLSX imported (bench/imports.py)


FULL = Plan(
    rounds=6,
    creates=300,
    spread=1_000,
    updates=700,
    reservations=700,
    hot_reservations=350,
    transfers=350,
    transfer_spread=200,
    events=100_000,
    projection_items=1_000,
    projection_repeats=3,
    timeline_orders=3_000,
    sla_open=100_000,
    sla_real=400,
    sla_repeats=15,
    match_payments=10_000,
    match_items=50_000,
    match_customers=2_000,
    match_apply=2_000,
)
QUICK = Plan(
    rounds=3,
    creates=60,
    spread=100,
    updates=100,
    reservations=100,
    hot_reservations=60,
    transfers=60,
    transfer_spread=20,
    events=5_000,
    projection_items=100,
    projection_repeats=1,
    timeline_orders=150,
    sla_open=5_000,
    sla_real=80,
    sla_repeats=3,
    match_payments=2_000,
    match_items=10_000,
    match_customers=400,
    match_apply=200,
    ageing_invoices=5_000,
    ageing_repeats=3,
    chain_events=5_000,
    asof_events=5_000,
    rebuild_events=5_000,
    asof_every=500,
    cipher_appends=200,
    cipher_events=2_000,
    import_rows=2_000,
)


def hot_open_reservations(plan: Plan) -> int:
    """Open reservations on the hot SKU, on average over its timed calls (none is released)."""
    return HOT_WARMUP + plan.rounds * plan.hot_reservations // 2
