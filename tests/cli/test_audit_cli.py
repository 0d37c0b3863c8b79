"""`orderledger audit` on real SQLite and PostgreSQL: exit codes, one-line findings and
refusals, nothing written when refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.runtime import open_runtime
from api.settings import Settings
from tests.cli.test_cli import invoke
from tests.conftest import command_meta as meta
from tests.integration import tampering


def record(settings: Settings, count: int, first: int = 0) -> None:
    runtime = open_runtime(settings, start_projections=False)
    try:
        for n in range(first, first + count):
            runtime.ledger.register_warehouse(meta(), code_=f"W{n}", name=f"Site {n}")
    finally:
        runtime.close()


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "audit.key", tmp_path / "audit.pub"
    code, output = make_keys(private, public)
    assert code == 0, output
    return private, public


def make_keys(private: Path, public: Path) -> tuple[int, str]:
    unused = Settings(database_url=f"sqlite:///{private.parent / 'unused.db'}")  # no database
    return invoke(unused, "audit", "keygen", "--private", str(private), "--public", str(public))


def test_a_clean_log_verifies_with_exit_0(settings: Settings) -> None:
    record(settings, 6)
    code, output = invoke(settings, "audit", "verify")
    assert code == 0, output
    assert "verified 6 events up to position 6, head hash " in output


def test_a_changed_event_exits_1_with_its_position(settings: Settings) -> None:
    record(settings, 6)
    assert invoke(settings, "audit", "verify")[0] == 0
    tampering.change_state(settings, 4)
    code, output = invoke(settings, "audit", "verify")
    assert code == 1
    assert error_line(output).startswith("error: changed at position 4:")


def test_keygen_writes_pem_files_and_never_overwrites(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert private.stat().st_mode & 0o077 == 0
    before = private.read_bytes()
    code, output = make_keys(private, public.with_name("other.pub"))
    assert code == 1
    assert "exists; keys are never overwritten" in error_line(output)
    assert private.read_bytes() == before
    assert not public.with_name("other.pub").exists()


def test_a_signed_checkpoint_verifies_later_and_catches_tampering_below_it(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    record(settings, 5)
    checkpoint = tmp_path / "q1.json"
    code, output = invoke(settings, "audit", "sign-checkpoint", "--key", str(private),
                          "--out", str(checkpoint))  # fmt: skip
    assert code == 0, output
    signed = json.loads(checkpoint.read_text())
    assert signed["position"] == 5
    assert len(signed["hash"]) == 64
    record(settings, 3, first=5)
    code, output = invoke(settings, "audit", "verify-checkpoint", str(checkpoint),
                          "--public-key", str(public))  # fmt: skip
    assert code == 0, output
    assert "checkpoint at position 5 holds; verified 5 events up to position 5" in output
    code, output = invoke(settings, "audit", "verify", "--from-checkpoint", str(checkpoint),
                          "--public-key", str(public))  # fmt: skip
    assert code == 0, output
    assert "verified 8 events up to position 8" in output
    tampering.change_state(settings, 2)
    code, output = invoke(settings, "audit", "verify-checkpoint", str(checkpoint),
                          "--public-key", str(public))  # fmt: skip
    assert code == 1
    assert error_line(output).startswith("error: changed at position 2:")


def test_sign_checkpoint_to_stdout_prints_the_json(
    settings: Settings, keys: tuple[Path, Path]
) -> None:
    record(settings, 2)
    code, output = invoke(settings, "audit", "sign-checkpoint", "--key", str(keys[0]))
    assert code == 0, output
    assert json.loads(output)["position"] == 2


def test_a_tampered_log_is_not_signed_and_nothing_is_written(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    record(settings, 4)
    assert invoke(settings, "audit", "verify")[0] == 0
    tampering.delete(settings, 3)
    out = tmp_path / "cp.json"
    code, output = invoke(settings, "audit", "sign-checkpoint", "--key", str(keys[0]),
                          "--out", str(out))  # fmt: skip
    assert code == 1
    assert "not signed: removed at position 3" in error_line(output)
    assert not out.exists()


def test_bad_checkpoints_and_keys_are_one_line_refusals(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    record(settings, 3)
    checkpoint = tmp_path / "cp.json"
    assert invoke(settings, "audit", "sign-checkpoint", "--key", str(private),
                  "--out", str(checkpoint))[0] == 0  # fmt: skip
    other = tmp_path / "other"
    assert make_keys(other.with_suffix(".key"), other.with_suffix(".pub"))[0] == 0
    malformed = tmp_path / "bad.json"
    malformed.write_text('{"format": "orderledger-chain-checkpoint/1", "position": ')
    body = json.loads(checkpoint.read_text())
    beyond = tmp_path / "beyond.json"
    beyond.write_text(json.dumps(body | {"position": 99}))
    cases = [
        (checkpoint, other.with_suffix(".pub"), "not the given key"),
        (malformed, public, "malformed checkpoint: not JSON"),
        (beyond, public, "signature does not verify"),
        (checkpoint, private, "not a PEM public key"),
        (tmp_path / "missing.json", public, "cannot read"),
    ]
    for file, key, message in cases:
        code, output = invoke(settings, "audit", "verify-checkpoint", str(file),
                              "--public-key", str(key))  # fmt: skip
        assert code == 1, (file, output)
        assert message in error_line(output), output


def test_a_signed_checkpoint_beyond_the_log_head_is_refused(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    record(settings, 3)
    checkpoint = tmp_path / "cp.json"
    assert invoke(settings, "audit", "sign-checkpoint", "--key", str(keys[0]),
                  "--out", str(checkpoint))[0] == 0  # fmt: skip
    for position in (3, 2):
        tampering.delete(settings, position)
    code, output = invoke(settings, "audit", "verify-checkpoint", str(checkpoint),
                          "--public-key", str(keys[1]))  # fmt: skip
    assert code == 1
    assert "beyond the log head 1" in error_line(output)


def test_from_checkpoint_needs_its_public_key(settings: Settings, tmp_path: Path) -> None:
    code, output = invoke(settings, "audit", "verify", "--from-checkpoint", str(tmp_path / "x"))
    assert code == 1
    assert "--from-checkpoint and --public-key go together" in error_line(output)
