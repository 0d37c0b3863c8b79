"""`orderledger replay explain|diff|stock-item` and `audit trail` on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from api.runtime import open_runtime
from api.settings import Settings
from tests.audit_history import DAY2, INVOICE, NOW, Marks, build
from tests.cli.test_cli import invoke
from tests.replay_clock import Clock


@pytest.fixture
def history(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Marks:
    runtime = open_runtime(settings, start_projections=False)
    try:
        return build(runtime.ledger, Clock(monkeypatch, NOW))
    finally:
        runtime.close()
        monkeypatch.undo()


def test_explain_diff_stock_item_and_trail_answer(settings: Settings, history: Marks) -> None:
    code, output = invoke(settings, "replay", "explain", "inventory", "SKU-1", "WH1")
    assert code == 0, output
    assert "available = 6 as known at position" in output
    assert "2 other movements did not change available" in output
    code, output = invoke(settings, "replay", "explain", "invoice", INVOICE)
    assert code == 0, output
    assert "open = 1.5 as known" in output
    code, output = invoke(settings, "replay", "explain", "order", "SO-1")
    assert code == 0, output
    assert "partially_shipped / stock_confirmed" in output
    code, output = invoke(settings, "replay", "diff", "--from", str(history.invoiced), "--to",
                          str(history.paid), "--model", "receivables")  # fmt: skip
    assert code == 0, output
    assert INVOICE in output
    code, output = invoke(settings, "replay", "stock-item", "SKU-1", "WH1", "--effective",
                          DAY2.isoformat())  # fmt: skip
    assert code == 0, output
    code, output = invoke(settings, "audit", "trail", "--actor", "ann", "--json")
    assert code == 0, output
    rows = [json.loads(line) for line in output.splitlines()]
    assert {r["actor"] for r in rows} == {"ann"}
    assert "StockItem.Reserved" in {r["event_type"] for r in rows}


def test_bad_input_is_one_line_and_exit_1(settings: Settings, history: Marks) -> None:
    cases = [
        (("replay", "explain", "inventory", "SKU-9", "WH1"), "error: no stock of SKU-9"),
        (("replay", "explain", "order", "SO-9"), "error: sales order SO-9 did not exist"),
        (("replay", "explain", "invoice", "INV-9"), "error: invoice INV-9 did not exist"),
        (("replay", "diff", "--from", "9", "--to", "3"), "error: the first moment"),
        (("replay", "diff", "--from", "1", "--to", "2", "--model", "x"), "error: unknown model"),
        (("audit", "trail", "--type", "X.Y"), "error: unknown event type 'X.Y'"),
        (("audit", "trail", "--from", "2000-01-01T00:00:00+00:00"), "error: 2000-01-01"),
        (("audit", "trail", "--aggregate", "SO-404"), "error: the log has no anything"),
    ]
    for args, message in cases:
        code, output = invoke(settings, *args)
        assert code == 1, (args, output)
        assert len(output.strip().splitlines()) == 1, (args, output)
        assert output.strip().startswith(message), (args, output)
