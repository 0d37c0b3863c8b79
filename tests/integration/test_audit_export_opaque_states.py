"""The audit bundle of a log whose stored states are not JSON (the event store's compressor
on, with or without the library's cipher), on real SQLite and PostgreSQL: it exports and
verifies clean, `data` is absent and counted, and tampering is still found. The bundle
carries the states with the cipher taken off, as the chain links them (the cipher alone,
whose states open to JSON: `tests/integration/test_encryption.py`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from eventsourcing.cryptography import AESCipher

from api.runtime import Runtime, open_runtime
from api.settings import Settings
from domain.cipher import state_opener
from domain.exceptions import InvalidInput
from replay import bundle_verify, checkpoints
from replay.bundle_verify import verify_bundle
from replay.chain_follower import ChainProjection
from tests.integration import tampering
from tests.integration.helpers import busy_day, seed_catalog
from tests.integration.test_audit_export import KEYS, export, finding, lines, rewrite, standalone

OPAQUE = {
    "encrypted and compressed": {
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
    },
    "compressed": {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"},
}


@pytest.fixture(params=OPAQUE)
def opaque(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """A runtime whose event store encrypts and/or compresses every state, with a busy day."""
    environment = Settings.eventsourcing_env
    extra = OPAQUE[request.param]
    monkeypatch.setattr(Settings, "eventsourcing_env", lambda self: environment(self) | extra)
    opened = open_runtime(settings, start_projections=False)
    try:
        seed_catalog(opened.ledger)
        busy_day(opened.ledger)
        yield opened
    finally:
        opened.close()


def test_states_that_are_not_json_export_and_verify_clean_without_data(
    opaque: Runtime, tmp_path: Path
) -> None:
    head = opaque.ledger.head()
    stored = opaque.ledger.recorder.select_notifications(start=1, limit=10_000)
    assert not any(_is_json(n.state) for n in stored)  # the store really is opaque
    done = export(opaque, tmp_path / "bundle", key=checkpoints.load_private_key(KEYS[0]))
    assert (done.events, done.not_json) == (head, head)
    manifest = json.loads((done.path / "manifest.json").read_bytes())
    assert manifest["states_not_json"] == head
    assert f"States not stored as JSON in this bundle: {head}." in (
        (done.path / "README.md").read_text()
    )
    written = [json.loads(line) for line in lines(done.path, "events.jsonl")]
    opener = state_opener(opaque.ledger)
    for line, n in zip(written, stored, strict=True):
        assert "data" not in line
        assert base64.b64decode(line["state_base64"]) == (opener(n.state) if opener else n.state)
        event = opaque.ledger.mapper.to_domain_event(n)  # recorded_at: decoded with the key
        assert line["recorded_at"] == event.timestamp.isoformat()
    assert verify_bundle(done.path).events == head
    with pytest.MonkeyPatch.context() as patch:  # lines without data take the quick path too
        patch.setattr(bundle_verify, "_full_step", lambda *args: pytest.fail(f"{args[-1]}"))
        assert verify_bundle(done.path).events == head
    code, output = standalone(done.path)
    assert code == 0, output
    assert output.startswith(f"OK: {head} events")
    assert "checkpoint signed by key" in output


def test_tampering_with_opaque_states_is_still_found(opaque: Runtime, tmp_path: Path) -> None:
    bundle = export(opaque, tmp_path / "bundle").path
    state_of_line_4 = base64.b64decode(json.loads(lines(bundle, "events.jsonl")[3])["state_base64"])
    flipped = bytes([state_of_line_4[0] ^ 1]) + state_of_line_4[1:]

    def edit(raw: list[bytes]) -> list[bytes]:
        event = json.loads(raw[3])
        event["state_base64"] = base64.b64encode(flipped).decode()
        return [*raw[:3], json.dumps(event).encode() + b"\n", *raw[4:]]

    rewrite(bundle, "events.jsonl", edit)
    found = finding(bundle)
    assert found.startswith("changed at position 4: events.jsonl line 4 does not give"), found
    assert standalone(bundle) == (1, f"FAIL: {found}")


def test_the_last_recorded_at_is_held_to_the_checkpoint_when_data_is_absent(
    opaque: Runtime, tmp_path: Path
) -> None:
    bundle = export(opaque, tmp_path / "bundle").path

    def edit(raw: list[bytes]) -> list[bytes]:
        event = json.loads(raw[-1])
        event["recorded_at"] = "2020-01-01T00:00:00+00:00"
        return [*raw[:-1], json.dumps(event).encode() + b"\n"]

    rewrite(bundle, "events.jsonl", edit)
    assert "the checkpoint's recorded_at is not the last event's" in finding(bundle)


def test_a_tampered_opaque_log_is_not_exported_and_nothing_is_written(
    opaque: Runtime, tmp_path: Path
) -> None:
    opaque.runner.catch_up(ChainProjection.name)
    tampering.change_state(opaque.settings, 3)  # the cipher could no longer decrypt it
    out = tmp_path / "out" / "bundle"
    out.parent.mkdir()
    with pytest.raises(InvalidInput, match="not exported: changed at position 3"):
        export(opaque, out)
    assert list(out.parent.iterdir()) == []


def _is_json(state: bytes) -> bool:
    """Whether stored bytes read as JSON (ciphertext may begin with "{" by chance, 1 in 256)."""
    try:
        orjson.loads(state)
    except orjson.JSONDecodeError:
        return False
    return True
