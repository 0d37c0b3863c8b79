"""Encryption at rest on real SQLite and PostgreSQL: no stored byte holds a field in plain,
the audit tools work on an encrypted log, a wrong or missing key stops the start in one
line, and a key rotation re-encrypts every state while the hash chain keeps verifying."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing.utils import Environment

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from domain.cipher import LedgerCipher, StateUnreadable, StoreUnreadable, new_key
from domain.key_rotation import rotate
from domain.ledger import Ledger
from replay import audit, checkpoints
from replay.bundle_live import check_against_log
from replay.bundle_verify import verify_bundle
from replay.chain_follower import ChainProjection
from tests.conftest import command_meta as meta
from tests.conftest import drop_schemas, make_settings
from tests.integration import tampering
from tests.integration.helpers import busy_day, seed_catalog, settle, stored_events
from tests.integration.test_audit_export import KEYS, export, lines

KEY_A, KEY_B = new_key(), new_key(16)
NAME, SKU = "Zebulon Quartz Handels GmbH", "SKU-CLEARTEXT-7"


@pytest.fixture
def stores(store_kind: str, tmp_path: Path) -> Iterator[dict[str, Settings]]:
    """One event store seen with key A, key B (A as an old key), B alone, and no key."""
    a = make_settings(store_kind, tmp_path, cipher_key=KEY_A)
    same = {"database_url": a.database_url, "events_schema": a.events_schema,
            "views_schema": a.views_schema}  # fmt: skip
    yield {
        "A": a,
        "B, old A": Settings(**same, cipher_key=KEY_B, cipher_old_keys=KEY_A),  # type: ignore[arg-type]
        "B": Settings(**same, cipher_key=KEY_B),  # type: ignore[arg-type]
        "none": Settings(**same),  # type: ignore[arg-type]
    }
    if a.is_postgres:
        drop_schemas(a)


@pytest.fixture
def under_a(stores: dict[str, Settings]) -> Iterator[Runtime]:
    """A busy day recorded under key A, with a customer, a stock-item snapshot, and every
    read model (the chain too) caught up."""
    opened = open_runtime(stores["A"], start_projections=False)
    try:
        seed_catalog(opened.ledger, skus=("SKU-1", "SKU-2", SKU))
        opened.ledger.register_customer(
            meta(), code_="C-Z", name=NAME, contacts=[], billing_address="1 Quay",
            shipping_address="1 Quay", region="north", payment_terms_days=30,
            credit_limit="1000", currency_code="EUR",
        )  # fmt: skip
        busy_day(opened.ledger)
        opened.ledger.take_snapshot(opened.ledger.stock_item("SKU-1", "WH1").id)
        settle(opened)
        yield opened
    finally:
        opened.close()


def raw_states(settings: Settings, ledger: Ledger) -> list[bytes]:
    """Every state in the event and snapshot tables, read with the database's own driver."""
    assert ledger.snapshots is not None
    tables = [ledger.recorder.events_table_name, ledger.snapshots.recorder.events_table_name]
    if settings.is_postgres:
        with psycopg.connect(settings.postgres_conninfo()) as connection:
            return [
                bytes(row[0])
                for table in tables
                for row in connection.execute(
                    f'SELECT state FROM "{settings.events_schema}".{table}'
                )
            ]
    with sqlite3.connect(settings.sqlite_path()) as connection:
        return [row[0] for t in tables for row in connection.execute(f"SELECT state FROM {t}")]


def cipher(*keys: str) -> LedgerCipher:
    return LedgerCipher(
        Environment("", {"CIPHER_KEY": keys[0], "CIPHER_OLD_KEYS": ",".join(keys[1:])})
    )


def test_no_stored_state_holds_a_known_field_in_plain(
    under_a: Runtime, stores: dict[str, Settings]
) -> None:
    states = raw_states(stores["A"], under_a.ledger)
    assert len(states) == under_a.ledger.head() + 1  # every event, and the snapshot
    assert not [s for s in states if NAME.encode() in s or SKU.encode() in s]
    # The same bytes opened with the key do hold them: the rows read are the right ones.
    opened = [cipher(KEY_A).decrypt(s) for s in states]
    assert sum(NAME.encode() in s for s in opened) == 1
    assert sum(SKU.encode() in s for s in opened) == 1


def test_the_audit_tools_work_on_an_encrypted_log(under_a: Runtime, tmp_path: Path) -> None:
    head = under_a.ledger.head()
    assert audit.verify_log(under_a.ledger, under_a.store).verified == head
    done = export(under_a, tmp_path / "bundle", key=checkpoints.load_private_key(KEYS[0]))
    assert (done.events, done.not_json) == (head, 0)  # opened states are JSON: data inlined
    first = lines(done.path, "events.jsonl")[0]
    assert b'"data":{' in first
    assert b"meta" in first
    assert verify_bundle(done.path).events == head
    assert check_against_log(under_a.ledger, done.path, head) == head


def test_a_state_changed_without_the_key_is_found_and_never_linked(under_a: Runtime) -> None:
    tampering.change_state(under_a.settings, 3)
    finding = audit.verify_log(under_a.ledger, under_a.store).finding
    assert finding is not None
    assert finding.line() == (
        "changed at position 3: the stored state does not decrypt under the configured keys"
        " (changed, or encrypted under another key)"
    )
    under_a.ledger.register_warehouse(meta(), code_="WH9", name="late")  # the chain lags by one
    tampering.change_state(under_a.settings, under_a.ledger.head())
    with pytest.raises(StateUnreadable, match=f"position {under_a.ledger.head()}"):
        under_a.runner.catch_up(ChainProjection.name)
    assert under_a.runner.position(ChainProjection.name) == under_a.ledger.head() - 1


def test_a_wrong_or_missing_key_stops_the_start_in_one_line(
    under_a: Runtime, stores: dict[str, Settings]
) -> None:
    head = under_a.ledger.head()
    with pytest.raises(StoreUnreadable) as wrong:
        open_runtime(stores["B"], start_projections=False)
    assert str(wrong.value) == (
        f"the stored events do not decrypt under ORDERLEDGER_CIPHER_KEY or any old key"
        f" (position {head}): a wrong key?"
    )
    with pytest.raises(StoreUnreadable, match=f"encrypted \\(position {head}\\): set ORDERLEDGER"):
        open_runtime(stores["none"], start_projections=False)


def test_rotating_to_a_new_key_keeps_every_state_readable_and_the_chain_verifying(
    under_a: Runtime, stores: dict[str, Settings], tmp_path: Path
) -> None:
    head = under_a.ledger.head()
    before = [(p, repr(e)) for p, e in stored_events(under_a.ledger)]
    signed = audit.sign_checkpoint(
        under_a.ledger, under_a.store, checkpoints.load_private_key(KEYS[0])
    )
    bundle = export(under_a, tmp_path / "bundle").path
    rotating = open_runtime(stores["B, old A"], start_projections=False)  # servers read A and B
    try:
        done = rotate(rotating.ledger, page_size=7)
        assert (done.scanned, done.reencrypted, done.current, done.pending) == (
            head + 1,
            head + 1,
            0,
            0,
        )
        assert rotate(rotating.ledger).current == head + 1  # a second run has nothing to do
    finally:
        rotating.close()
    states = raw_states(stores["A"], under_a.ledger)
    assert all(cipher(KEY_B).open_with(s) is not None for s in states)
    assert all(cipher(KEY_A).open_with(s) is None for s in states)  # the old key reads nothing
    after = open_runtime(stores["B"], start_projections=False)  # B alone now
    try:
        assert [(p, repr(e)) for p, e in stored_events(after.ledger)] == before
        assert after.ledger.stock_item("SKU-1", "WH1").physical > 0  # through the snapshot
        assert audit.verify_log(after.ledger, after.store).verified == head
        public = checkpoints.load_public_key(KEYS[1])
        assert audit.verify_checkpoint(after.ledger, after.store, signed, public).ok
        assert check_against_log(after.ledger, bundle, head) == head  # old bundles still hold
    finally:
        after.close()


def test_a_rotation_that_stopped_half_way_finishes_when_run_again(
    under_a: Runtime, stores: dict[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain import key_rotation

    total = under_a.ledger.head() + 1
    rotating = Ledger(stores["B, old A"].eventsourcing_env())
    try:
        pages = 0
        real = key_rotation._page

        def crash_on_the_third(*args: object) -> object:
            nonlocal pages
            pages += 1
            if pages == 3:
                raise KeyboardInterrupt
            return real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(key_rotation, "_page", crash_on_the_third)
        with pytest.raises(KeyboardInterrupt):
            rotate(rotating, page_size=5)
        monkeypatch.setattr(key_rotation, "_page", real)
        assert rotate(rotating, dry_run=True).reencrypted == total - 10
        resumed = rotate(rotating, page_size=5)
        assert (resumed.current, resumed.reencrypted) == (10, total - 10)
    finally:
        rotating.close()
    assert all(cipher(KEY_B).open_with(s) for s in raw_states(stores["A"], under_a.ledger))
    audit_runtime = open_runtime(stores["B"], start_projections=False)
    try:
        assert audit.verify_log(audit_runtime.ledger, audit_runtime.store).ok
    finally:
        audit_runtime.close()


def test_turning_the_cipher_on_for_a_ledger_stored_in_plain_keeps_its_chain(
    stores: dict[str, Settings],
) -> None:
    plain = open_runtime(stores["none"], start_projections=False)
    try:
        seed_catalog(plain.ledger)
        busy_day(plain.ledger)
        settle(plain)
        head_hash = audit.verify_log(plain.ledger, plain.store).head_hash
    finally:
        plain.close()
    with pytest.raises(StoreUnreadable, match="stored in plain\\): stop every server and run"):
        open_runtime(stores["A"], start_projections=False)
    encrypting = Ledger(stores["A"].eventsourcing_env())
    try:
        assert rotate(encrypting).unreadable > 0  # plain states are not taken unless asked
        done = rotate(encrypting, encrypt_plain=True)
        assert done.encrypted == done.scanned > 0
    finally:
        encrypting.close()
    encrypted = open_runtime(stores["A"], start_projections=False)
    try:
        assert audit.verify_log(encrypted.ledger, encrypted.store).head_hash == head_hash
    finally:
        encrypted.close()
