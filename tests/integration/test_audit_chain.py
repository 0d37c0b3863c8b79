"""The hash chain on real SQLite and PostgreSQL: recorded by its follower, verified against the
log, and tampering caught at its position; signed checkpoints hold history up to them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from domain.cipher import opened, state_opener
from domain.ledger import Ledger
from replay import audit, chain_follower, checkpoints
from replay.chain import GENESIS, chain_links
from replay.chain_follower import ChainProjection
from replay.checkpoints import CheckpointError
from replay.verify import Verification
from tests.conftest import command_meta as meta
from tests.integration import tampering
from tests.integration.tampering import POSTGRES_EVENTS_TABLE

CHAIN = ChainProjection.name


def record(ledger: Ledger, count: int, first: int = 0) -> None:
    """`count` events, one warehouse each."""
    for n in range(first, first + count):
        ledger.register_warehouse(meta("register_warehouse"), code_=f"W{n}", name=f"Site {n}")


def link(runtime: Runtime) -> None:
    runtime.runner.catch_up(CHAIN)


def verify(runtime: Runtime) -> Verification:
    return audit.verify_log(runtime.ledger, runtime.store)


def chain_rows(runtime: Runtime) -> list[tuple[int, bytes]]:
    with runtime.store.read() as cur:
        rows = cur.execute("SELECT position, hash FROM audit_chain ORDER BY position").fetchall()
    return [(int(p), bytes(h)) for p, h in rows]


def log_positions(ledger: Ledger) -> list[int]:
    return [n.id for n in ledger.recorder.select_notifications(start=1, limit=10_000)]


@pytest.fixture
def linked(runtime: Runtime) -> Runtime:
    """Eight events, all linked."""
    record(runtime.ledger, 8)
    link(runtime)
    return runtime


def test_the_tampering_helpers_address_the_recorders_table(runtime: Runtime) -> None:
    if runtime.settings.is_postgres:
        assert runtime.ledger.recorder.events_table_name == POSTGRES_EVENTS_TABLE


def test_a_valid_history_verifies_clean_up_to_the_head(linked: Runtime) -> None:
    result = verify(linked)
    assert result.ok, result.finding
    assert (result.verified, result.position) == (8, linked.ledger.head())
    status = audit.chain_status(linked.ledger, linked.store)
    assert (status.position, status.hash) == (8, result.head_hash)
    assert status.hash != GENESIS


def test_the_follower_links_every_position_once_across_restarts(settings: Settings) -> None:
    first = open_runtime(settings, start_projections=False)
    try:
        record(first.ledger, 5)
        first.runner.catch_up(CHAIN, until=3)
    finally:
        first.close()
    second = open_runtime(settings, start_projections=False)
    try:
        record(second.ledger, 4, first=5)
        link(second)
        assert [p for p, _ in chain_rows(second)] == log_positions(second.ledger)
        assert verify(second).ok
        # Linked in one pass from scratch, the hashes are the same.
        stored = second.ledger.recorder.select_notifications(start=1, limit=100)
        notes = opened(stored, state_opener(second.ledger))  # as the follower is handed them
        assert [(p, h) for p, h, _ in chain_links(notes, GENESIS)] == chain_rows(second)
    finally:
        second.close()


def test_a_page_that_fails_links_nothing_and_is_linked_again(
    linked: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(linked.ledger, 3, first=8)
    failing = chain_follower.chain_links

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("crash mid-page")

    monkeypatch.setattr(chain_follower, "chain_links", broken)
    with pytest.raises(RuntimeError):
        link(linked)
    assert linked.runner.position(CHAIN) == 8
    assert len(chain_rows(linked)) == 8
    monkeypatch.setattr(chain_follower, "chain_links", failing)
    link(linked)
    assert [p for p, _ in chain_rows(linked)] == log_positions(linked.ledger)
    assert verify(linked).ok


def test_rebuilding_the_chain_gives_the_same_links(linked: Runtime) -> None:
    before = chain_rows(linked)
    linked.runner.rebuild(CHAIN)
    assert chain_rows(linked) == before


def test_changing_one_stored_event_is_found_at_its_position(linked: Runtime) -> None:
    tampering.change_state(linked.settings, 5)
    result = verify(linked)
    assert result.finding is not None
    assert (result.finding.kind, result.finding.position) == ("changed", 5)
    assert (result.verified, result.position) == (4, 4)


def test_deleting_one_stored_event_is_found_at_its_position(linked: Runtime) -> None:
    tampering.delete(linked.settings, 3)
    finding = verify(linked).finding
    assert finding is not None
    assert (finding.kind, finding.position) == ("removed", 3)


def test_deleting_the_last_events_is_found(linked: Runtime) -> None:
    tampering.delete(linked.settings, 7)
    tampering.delete(linked.settings, 8)
    finding = verify(linked).finding
    assert finding is not None
    assert (finding.kind, finding.position) == ("removed", 7)


def test_swapping_two_events_contents_is_found_at_the_first(linked: Runtime) -> None:
    tampering.swap_contents(linked.settings, 2, 6)
    finding = verify(linked).finding
    assert finding is not None
    assert finding.position == 2


def test_swapping_two_events_in_the_log_order_is_reported_as_a_reorder(linked: Runtime) -> None:
    tampering.swap_positions(linked.settings, 3, 6)
    finding = verify(linked).finding
    assert finding is not None
    assert (finding.kind, finding.position) == ("reordered", 3)
    assert "position 6" in finding.detail


def test_an_event_inserted_below_the_head_is_found(runtime: Runtime) -> None:
    record(runtime.ledger, 6)
    tampering.move(runtime.settings, 6, 10)  # a gap, as PostgreSQL leaves them
    link(runtime)
    assert verify(runtime).ok  # gaps are not missing events
    tampering.copy_event(runtime.settings, 2, to=8, version=2)
    finding = verify(runtime).finding
    assert finding is not None
    assert (finding.kind, finding.position) == ("inserted", 8)


def test_an_edited_link_is_told_apart_from_an_edited_event(linked: Runtime) -> None:
    with linked.store.transaction() as cur:
        cur.execute("UPDATE audit_chain SET hash = ? WHERE position = 4", (bytes(32),))
    finding = verify(linked).finding
    assert finding is not None
    assert (finding.kind, finding.position) == ("chain-altered", 4)


# -- signed checkpoints -------------------------------------------------------------------


@pytest.fixture
def keys() -> tuple[checkpoints.Ed25519PrivateKey, checkpoints.Ed25519PublicKey]:
    private_pem, public_pem = checkpoints.new_key_pair()
    return checkpoints.load_private_key(private_pem), checkpoints.load_public_key(public_pem)


def test_a_checkpoint_signed_earlier_holds_after_more_events(linked: Runtime, keys: tuple) -> None:
    private, public = keys
    signed = audit.sign_checkpoint(linked.ledger, linked.store, private)
    assert (signed.position, signed.hash) == (8, verify(linked).head_hash)
    assert datetime.fromisoformat(signed.recorded_at).tzinfo is not None
    kept = checkpoints.parse(checkpoints.canonical(signed.as_json()))  # as the auditor keeps it
    record(linked.ledger, 5, first=8)
    link(linked)
    result = audit.verify_checkpoint(linked.ledger, linked.store, kept, public)
    assert result.ok
    assert result.position == 8
    whole = audit.verify_checkpoint(linked.ledger, linked.store, kept, public, whole_log=True)
    assert whole.ok
    assert whole.position == 13
    tampering.change_state(linked.settings, 11)  # above the checkpoint: not its business
    assert audit.verify_checkpoint(linked.ledger, linked.store, kept, public).ok


def test_a_tampered_event_below_the_checkpoint_fails_it(linked: Runtime, keys: tuple) -> None:
    private, public = keys
    signed = audit.sign_checkpoint(linked.ledger, linked.store, private)
    record(linked.ledger, 2, first=8)
    tampering.change_state(linked.settings, 6)
    finding = audit.verify_checkpoint(linked.ledger, linked.store, signed, public).finding
    assert finding is not None
    assert (finding.kind, finding.position) == ("changed", 6)


def test_a_rewritten_log_and_chain_still_fail_the_checkpoint(linked: Runtime, keys: tuple) -> None:
    private, public = keys
    signed = audit.sign_checkpoint(linked.ledger, linked.store, private)
    tampering.change_content(linked.settings, 6)  # with the key, if the events are encrypted
    linked.runner.rebuild(CHAIN)  # whoever rewrote the log also re-linked it
    assert verify(linked).ok
    finding = audit.verify_checkpoint(linked.ledger, linked.store, signed, public).finding
    assert finding is not None
    assert (finding.kind, finding.position) == ("checkpoint", 8)


def test_a_tampered_log_is_never_signed(linked: Runtime, keys: tuple) -> None:
    tampering.delete(linked.settings, 2)
    with pytest.raises(CheckpointError, match="removed at position 2"):
        audit.sign_checkpoint(linked.ledger, linked.store, keys[0])


def test_a_checkpoint_from_another_key_is_refused(linked: Runtime, keys: tuple) -> None:
    signed = audit.sign_checkpoint(linked.ledger, linked.store, keys[0])
    other = checkpoints.load_public_key(checkpoints.new_key_pair()[1])
    with pytest.raises(CheckpointError, match="not the given key"):
        audit.verify_checkpoint(linked.ledger, linked.store, signed, other)


def test_an_altered_checkpoint_is_refused(linked: Runtime, keys: tuple) -> None:
    signed = audit.sign_checkpoint(linked.ledger, linked.store, keys[0])
    body = signed.as_json() | {"position": 7}
    with pytest.raises(CheckpointError, match="signature does not verify"):
        audit.verify_checkpoint(linked.ledger, linked.store, checkpoints.parse(body), keys[1])


def test_a_checkpoint_beyond_the_log_head_is_refused(linked: Runtime, keys: tuple) -> None:
    ahead = checkpoints.sign(keys[0], 50, bytes(32), "2026-01-01T00:00:00+00:00", datetime.now(UTC))
    with pytest.raises(CheckpointError, match="beyond the log head 8"):
        audit.verify_checkpoint(linked.ledger, linked.store, ahead, keys[1])
