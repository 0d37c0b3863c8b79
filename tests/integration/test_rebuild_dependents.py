"""A rebuild replaces its read model's tables: on PostgreSQL it refuses, before any work and
in one line, while an analyst's view or foreign key rests on them (the switch would fail
halfway and leave shadow tables behind), and rebuilds once they are gone."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import cli
from api.runtime import Runtime
from domain.exceptions import RuleViolation
from tests.cli.test_cli import env_for
from tests.integration.helpers import seed_catalog

pytestmark = pytest.mark.postgres


@pytest.fixture
def store_kind() -> str:
    return "postgres"


def _tables(runtime: Runtime) -> set[str]:
    with runtime.store.read() as cur:
        rows = cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            (runtime.settings.views_schema,),
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_a_view_on_a_read_model_blocks_its_rebuild_until_it_is_dropped(runtime: Runtime) -> None:
    seed_catalog(runtime.ledger)
    runtime.runner.catch_up("catalog")
    views = runtime.settings.views_schema
    with psycopg.connect(runtime.settings.postgres_conninfo(), autocommit=True) as connection:
        connection.execute(
            f'CREATE VIEW "{views}".cheap_products AS'
            f' SELECT sku FROM "{views}".products WHERE list_price < 10'
        )
    before = _tables(runtime)

    with pytest.raises(RuleViolation) as refused:
        runtime.runner.rebuild("catalog")
    assert refused.value.rule == "rebuild-blocked"
    assert f"{views}.cheap_products (on products)" in refused.value.message
    assert _tables(runtime) == before  # no shadow tables, nothing dropped
    assert not any(name.endswith("__shadow") for name in _tables(runtime))

    code = CliRunner().invoke(cli, ["projections", "rebuild", "catalog"],
                              env=env_for(runtime.settings))  # fmt: skip
    assert code.exit_code == 1
    assert "cheap_products (on products)" in code.stderr
    assert len(code.stderr.strip().splitlines()) == 1

    runtime.runner.rebuild("inventory")  # other read models rebuild as ever
    with psycopg.connect(runtime.settings.postgres_conninfo(), autocommit=True) as connection:
        connection.execute(f'DROP VIEW "{views}".cheap_products')
    assert runtime.runner.rebuild("catalog") > 0
