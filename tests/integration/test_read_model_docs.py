"""docs/read-models.md against the code: every documented table and column (name and type)
is what PostgreSQL holds after the demo, every `sql` example runs on the demo data, and the
read-only role script lets an analyst read — also the tables a rebuild swaps in — but not
write."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import catch_up_all, cli
from api.runtime import open_runtime, read_models
from api.settings import Settings
from projections.ar import ageing
from projections.open_items import BUCKET_NAMES
from projections.rebuild import rebuild
from projections.store import Cursor, SQLiteViewStore
from tests.conftest import drop_schemas, make_settings, settings_env

pytestmark = pytest.mark.postgres

DOC = Path(__file__).resolve().parents[2] / "docs" / "read-models.md"
TABLE_HEADING = re.compile(r"^### `(\w+)`$")
COLUMN_ROW = re.compile(r"^\| `(\w+)` \| `(\w+)`( PK)? \|")
# The doc names PostgreSQL's short type names; information_schema spells some out.
TYPE_NAMES = {"timestamptz": "timestamp with time zone"}
# Questions the demo company has no answer to: no item is below its safety stock, and every
# purchase order has arrived in full. Every other example must find rows.
EMPTY_ON_DEMO = ("WHERE i.below_safety", "l.quantity > l.received")


def documented_columns(text: str) -> dict[str, dict[str, str]]:
    """Table → column → type, from the `### `table`` sections' column tables."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        heading = TABLE_HEADING.match(line)
        if heading:
            current = tables.setdefault(heading.group(1), {})
        elif line.startswith("## "):
            current = None
        elif current is not None and (row := COLUMN_ROW.match(line)):
            current[row.group(1)] = TYPE_NAMES.get(row.group(2), row.group(2))
    return tables


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def connect(settings: Settings) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        settings.postgres_conninfo(), options=f"-c search_path={settings.views_schema}"
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The demo company (20 SKUs) in PostgreSQL, every projection at the head."""
    folder = tmp_path_factory.mktemp("read-model-docs")
    settings = make_settings("postgres", folder)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(folder)  # the demo writes its statement and keys under ./var
            result = CliRunner().invoke(cli, ["demo", "--skus", "20"], env=settings_env(settings))
        assert result.exit_code == 0, result.output
        runtime = open_runtime(settings, start_projections=False)
        try:
            catch_up_all(runtime)
        finally:
            runtime.close()
        yield settings
    finally:
        drop_schemas(settings)


def test_every_table_and_column_of_the_views_schema_is_documented_with_its_type(
    demo: Settings,
) -> None:
    with connect(demo) as connection:
        rows = connection.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s",
            (demo.views_schema,),
        ).fetchall()
    actual: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        actual.setdefault(str(table), {})[str(column)] = str(data_type)
    documented = documented_columns(DOC.read_text())
    assert sorted(documented) == sorted(actual)
    for table, columns in actual.items():
        assert documented[table] == columns, table


def test_the_sqlite_store_has_the_same_tables_and_columns(tmp_path: Path) -> None:
    settings = make_settings("sqlite", tmp_path)
    open_runtime(settings, start_projections=False).close()
    store = SQLiteViewStore(str(settings.views_path()))
    try:
        with store.read() as cur:
            listed = cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            names = [row[0] for row in listed.fetchall()]
            actual = {
                name: [r[1] for r in cur.execute(f"PRAGMA table_info({name})").fetchall()]
                for name in names
            }
    finally:
        store.close()
    documented = documented_columns(DOC.read_text())
    assert {t: sorted(c) for t, c in actual.items()} == {
        t: sorted(c) for t, c in documented.items()
    }


def test_every_projection_is_in_the_overview() -> None:
    text = DOC.read_text()
    for projection in read_models(None):
        assert f"| `{projection.name}` |" in text, projection.name


def test_every_example_query_runs_on_the_demo_data_and_finds_rows(demo: Settings) -> None:
    queries = fenced(DOC.read_text(), "sql")
    assert len(queries) >= 15
    empty = []
    with connect(demo) as connection:
        for query in queries:
            try:
                rows = connection.execute(query).fetchall()
            except psycopg.Error as error:
                pytest.fail(f"{error}\n{query}")
            if not rows and not any(marker in query for marker in EMPTY_ON_DEMO):
                empty.append(query)
    assert empty == []


def test_the_ageing_example_gives_the_apis_ageing(demo: Settings) -> None:
    (query,) = [q for q in fenced(DOC.read_text(), "sql") if "days_61_90" in q]
    with connect(demo) as connection, connection.cursor() as raw:
        found = raw.execute("SELECT current_date").fetchone()
        assert found is not None
        today = found[0]
        assert isinstance(today, date)
        rows = raw.execute(query).fetchall()
        expected = ageing(Cursor(raw, "postgres"), as_of=today)["customers"]
    figures = {(row[0], row[1]): [Decimal(0) if v is None else v for v in row[2:]] for row in rows}
    assert len(figures) >= 2  # the demo has customers owing in more than one bucket
    assert figures == {
        (row["customer"], row["currency"]): [row["total"], *(row[b] for b in BUCKET_NAMES)]
        for row in expected
    }


def test_the_analyst_role_script_reads_also_rebuilt_tables_and_cannot_write(
    demo: Settings,
) -> None:
    (script,) = fenced(DOC.read_text(), "postgresql")
    role = f"analysts_{uuid.uuid4().hex[:10]}"
    sql = script.replace("orderledger_views", demo.views_schema).replace("analysts", role)
    with psycopg.connect(demo.postgres_conninfo(), autocommit=True) as admin:
        owner = admin.info.user
        admin.execute(sql.replace("FOR ROLE orderledger", f'FOR ROLE "{owner}"'))
        try:
            runtime = open_runtime(demo, start_projections=False)
            try:
                rebuild(runtime.runner, ["catalog"])  # new `products` and `warehouses`
            finally:
                runtime.close()
            with connect(demo) as analyst:
                analyst.execute(f'SET ROLE "{role}"')
                assert analyst.execute("SELECT count(*) FROM products").fetchone() == (20,)
                orders = analyst.execute("SELECT count(*) FROM sales_orders").fetchone()
                assert orders is not None
                assert int(str(orders[0])) > 0
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    analyst.execute("DELETE FROM sales_orders")
        finally:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
