"""A read model whose tables changed shape between releases is filled again, not broken.

Each read model's table definitions are fingerprinted when its tables are made; a start
that finds another fingerprint (or, in a store made before fingerprints were kept, other
columns) empties that read model and folds it again from position 0."""

from __future__ import annotations

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from tests.integration.helpers import busy_day, read_model, seed_catalog, settle


def _reopened(settings: Settings) -> Runtime:
    return open_runtime(settings, start_projections=False)


def _filled(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    opened = _reopened(settings)
    try:
        seed_catalog(opened.ledger)
        busy_day(opened.ledger)
        settle(opened)
        return read_model(opened, "inventory")
    finally:
        opened.close()


def test_a_read_model_made_by_another_release_is_folded_again_from_the_start(
    settings: Settings,
) -> None:
    before = _filled(settings)
    assert before["inventory_items"]  # the busy day left rows to compare
    opened = _reopened(settings)
    try:
        assert opened.runner.reshaped == []  # an unchanged store starts as it was
        with opened.store.transaction() as cur:  # as another release would have left it
            cur.execute("UPDATE read_model_shapes SET shape = 'other' WHERE name = 'inventory'")
    finally:
        opened.close()

    again = _reopened(settings)
    try:
        assert again.runner.reshaped == ["inventory"]
        assert again.runner.position("inventory") == 0
        assert again.runner.position("catalog") > 0  # the others keep their rows and place
        settle(again)
        assert read_model(again, "inventory") == before
    finally:
        again.close()


def test_a_store_made_before_shapes_were_kept_is_checked_by_its_columns(
    settings: Settings,
) -> None:
    before = _filled(settings)
    opened = _reopened(settings)
    try:
        with opened.store.transaction() as cur:
            cur.execute("DELETE FROM read_model_shapes")
            cur.execute("ALTER TABLE inventory_items DROP COLUMN projected")  # an older layout
    finally:
        opened.close()

    again = _reopened(settings)
    try:
        assert again.runner.reshaped == ["inventory"]  # only the one whose columns differ
        settle(again)
        assert read_model(again, "inventory") == before
    finally:
        again.close()
    third = _reopened(settings)
    try:
        assert third.runner.reshaped == []  # the fingerprints are kept from now on
    finally:
        third.close()
