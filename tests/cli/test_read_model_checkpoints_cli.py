"""`orderledger replay checkpoint` / `replay checkpoints` on real SQLite and PostgreSQL:
built incrementally, listed, used by as-of, deleted; bad input is one line and exit 1."""

from __future__ import annotations

from typer.testing import CliRunner

from api.cli import cli
from api.runtime import checkpoint_store, open_runtime
from api.settings import Settings
from tests.cli.test_cli import env_for, invoke
from tests.integration.helpers import produce, seed_catalog


def seeded(settings: Settings, movements: int = 12) -> int:
    """The catalog and `movements` productions of SKU-1; the head."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        seed_catalog(runtime.ledger)
        for n in range(movements):
            produce(runtime.ledger, "SKU-1", "1", ref=f"MO-{n}")
        return runtime.ledger.head()
    finally:
        runtime.close()


def invoke_every(settings: Settings, interval: int, *args: str) -> tuple[int, str]:
    """The CLI with ORDERLEDGER_READ_MODEL_CHECKPOINT_INTERVAL set."""
    env = {**env_for(settings), "ORDERLEDGER_READ_MODEL_CHECKPOINT_INTERVAL": str(interval)}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def positions(settings: Settings) -> list[tuple[str, int]]:
    return [(i.model, i.position) for i in checkpoint_store(settings).list()]


def test_checkpoints_are_built_listed_used_and_deleted(settings: Settings) -> None:
    head = seeded(settings)
    code, output = invoke(settings, "replay", "checkpoint", "--model", "inventory", "--every", "5")
    assert code == 0, output
    grid = list(range(5, head + 1, 5))
    assert f"inventory: {len(grid)} checkpoints at 5 … {grid[-1]}" in output
    assert positions(settings) == [("inventory", p) for p in grid]
    code, output = invoke(settings, "replay", "checkpoint", "--model", "inventory", "--every", "5")
    assert code == 0, output
    assert "inventory: up to date" in output
    code, output = invoke(settings, "replay", "checkpoints")
    assert code == 0, output
    rows = [line for line in output.splitlines() if "inventory" in line]
    assert len(rows) == len(grid)
    assert all("yes" in row for row in rows)
    code, output = invoke(settings, "replay", "as-of", "inventory", "--position", str(head))
    assert code == 0, output
    assert f"replayed {head - grid[-1]} events after the read-model checkpoint at {grid[-1]}" in (
        " ".join(output.split())
    )
    code, output = invoke(settings, "replay", "checkpoints", "--delete")
    assert code == 0, output
    assert f"deleted {len(grid)} read-model checkpoints" in output
    assert positions(settings) == []


def test_every_model_is_checkpointed_at_the_settings_interval(settings: Settings) -> None:
    head = seeded(settings)
    code, output = invoke_every(settings, 4, "replay", "checkpoint")
    assert code == 0, output
    grid = list(range(4, head + 1, 4))
    for model in ("inventory", "orders", "receivables"):
        assert [p for m, p in positions(settings) if m == model] == grid


def test_bad_input_is_one_line_exit_1_and_writes_nothing(settings: Settings) -> None:
    seeded(settings)
    cases = {
        ("checkpoint", "--model", "stock"): "error: unknown model 'stock'; models are",
        ("checkpoint", "--every", "0"): "error: --every must be a positive number of events, not 0",
        ("checkpoint", "--every", "-3"): "error: --every must be a positive number of events",
        ("checkpoints", "--model", "ageing"): "error: unknown model 'ageing'",
    }
    for args, message in cases.items():
        code, output = invoke(settings, "replay", *args)
        assert code == 1, (args, output)
        assert output.strip().startswith(message), (args, output)
        assert len(output.strip().splitlines()) == 1, output
    code, output = invoke_every(settings, 0, "replay", "checkpoint")
    assert code == 1
    assert "read-model checkpoints are off (interval 0)" in output
    assert positions(settings) == []
