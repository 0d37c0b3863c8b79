"""`orderledger audit export|verify-export` on real SQLite and PostgreSQL, and the bad input
of every audit command: one line, exit 1, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from api.settings import Settings
from replay import checkpoints
from tests.cli.test_audit_cli import error_line, keys, make_keys, record
from tests.cli.test_cli import invoke
from tests.integration import tampering

__all__ = ["keys"]  # the fixture, shared with the audit CLI tests


def test_export_then_verify_export_signed_and_against_the_grown_log(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    record(settings, 6)
    out = tmp_path / "bundle"
    code, output = invoke(settings, "audit", "export", str(out), "--to-position", "4",
                          "--key", str(keys[0]))  # fmt: skip
    assert code == 0, output
    assert "wrote" in output
    assert "4 events, positions 1..4" in output
    assert ", signed" in output
    record(settings, 2, first=6)
    code, output = invoke(settings, "audit", "verify-export", str(out), "--public-key",
                          str(keys[1]), "--against-log")  # fmt: skip
    assert code == 0, output
    assert "bundle verifies: 4 events, positions 1..4" in output
    assert "the live log holds the bundle's 4 events as its prefix (log head 8)" in output


def test_a_zip_export_up_to_a_recorded_time_is_unsigned_and_says_so(
    settings: Settings, tmp_path: Path
) -> None:
    record(settings, 3)
    out = tmp_path / "bundle.zip"
    code, output = invoke(settings, "audit", "export", str(out), "--format", "zip",
                          "--at", "2999-01-01T00:00:00+00:00")  # fmt: skip
    assert code == 1
    assert "is in the future" in error_line(output)
    assert not out.exists()
    code, output = invoke(settings, "audit", "export", str(out), "--format", "zip")
    assert code == 0, output
    assert "UNSIGNED (no --key)" in output
    code, output = invoke(settings, "audit", "verify-export", str(out))
    assert code == 0, output
    assert "UNSIGNED" in output


def test_tampering_after_an_export_is_caught_against_the_log(
    settings: Settings, tmp_path: Path
) -> None:
    record(settings, 5)
    out = tmp_path / "bundle"
    assert invoke(settings, "audit", "export", str(out))[0] == 0
    tampering.change_state(settings, 2)
    code, output = invoke(settings, "audit", "verify-export", str(out), "--against-log")
    assert code == 1
    assert error_line(output).startswith(
        "error: the live log departs from the bundle: changed at position 2:"
    )


def test_a_corrupted_bundle_is_one_line_naming_its_position(
    settings: Settings, tmp_path: Path
) -> None:
    record(settings, 5)
    out = tmp_path / "bundle"
    assert invoke(settings, "audit", "export", str(out))[0] == 0
    events = (out / "events.jsonl").read_bytes().splitlines(keepends=True)
    (out / "events.jsonl").write_bytes(b"".join(events[:2] + events[3:]))
    code, output = invoke(settings, "audit", "verify-export", str(out))
    assert code == 1
    assert error_line(output).startswith(f"error: {out}: misplaced at position 3:")


def test_export_refusals_write_nothing(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    record(settings, 3)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    fresh = str(tmp_path / "fresh")
    cases = [
        ((str(taken),), "already exists and is not empty"),
        ((fresh, "--to-position", "9"), "position 9 is not in the log"),
        ((fresh, "--to-position", "0"), "position 0 is not in the log"),
        ((fresh, "--at", "2001-01-01T00:00:00+00:00"), "is before the first event"),
        ((fresh, "--at", "yesterday"), "is not an ISO time"),
        ((fresh, "--at", "2001-01-01T00:00:00"), "must carry a time zone offset"),
        ((fresh, "--to-position", "2", "--at", "2001-01-01T00:00:00+00:00"), "not both"),
        ((fresh, "--format", "tar"), "unknown format 'tar'"),
        ((fresh, "--key", str(garbage)), "not an unencrypted PEM private key"),
        ((fresh, "--key", str(keys[1])), "not an unencrypted PEM private key"),
        ((fresh, "--key", str(tmp_path / "none.pem")), "cannot read"),
    ]
    for args, message in cases:
        code, output = invoke(settings, "audit", "export", *args)
        assert code == 1, (args, output)
        assert message in error_line(output), (args, output)
    assert not (tmp_path / "fresh").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial bundle
    assert [p.name for p in taken.iterdir()] == ["x"]


def test_verify_export_refuses_bad_keys_and_missing_bundles(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    record(settings, 3)
    out = tmp_path / "bundle"
    assert invoke(settings, "audit", "export", str(out), "--key", str(keys[0]))[0] == 0
    other = tmp_path / "other"
    assert make_keys(other.with_suffix(".key"), other.with_suffix(".pub"))[0] == 0
    cases = [
        ((str(out), "--public-key", str(other.with_suffix(".pub"))), "names key"),
        ((str(out), "--public-key", str(keys[0])), "not a PEM public key"),
        ((str(out), "--public-key", str(tmp_path / "none.pem")), "cannot read"),
        ((str(tmp_path / "nowhere"),), "does not exist"),
        ((str(keys[1]),), "is neither a bundle folder nor a zip"),
    ]
    for args, message in cases:
        code, output = invoke(settings, "audit", "verify-export", *args)
        assert code == 1, (args, output)
        assert message in error_line(output), (args, output)


def test_verify_checkpoint_refuses_a_checkpoint_missing_fields_and_garbage_pem(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    record(settings, 3)
    checkpoint = tmp_path / "cp.json"
    assert invoke(settings, "audit", "sign-checkpoint", "--key", str(keys[0]),
                  "--out", str(checkpoint))[0] == 0  # fmt: skip
    body = json.loads(checkpoint.read_text())
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({k: v for k, v in body.items() if k != "hash"}))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    rsa = tmp_path / "not-ed25519.pub"
    rsa.write_bytes(checkpoints.new_key_pair()[0])  # a private key where a public one goes
    cases = [
        (missing, keys[1], "malformed checkpoint: missing hash"),
        (listed, keys[1], "malformed checkpoint: not a JSON object"),
        (checkpoint, garbage, "not a PEM public key"),
        (checkpoint, rsa, "not a PEM public key"),
    ]
    for file, key, message in cases:
        code, output = invoke(settings, "audit", "verify-checkpoint", str(file),
                              "--public-key", str(key))  # fmt: skip
        assert code == 1, (file, output)
        assert message in error_line(output), output


def test_sign_checkpoint_refuses_garbage_keys_and_an_existing_out(
    settings: Settings, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    record(settings, 2)
    garbage = tmp_path / "garbage.key"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    existing = tmp_path / "existing.json"
    existing.write_text("{}")
    cases = [
        (("--key", str(garbage)), "not an unencrypted PEM private key"),
        (("--key", str(keys[1])), "not an unencrypted PEM private key"),
        (("--key", str(keys[0]), "--out", str(existing)), "exists; checkpoints are never"),
    ]
    for args, message in cases:
        code, output = invoke(settings, "audit", "sign-checkpoint", *args)
        assert code == 1, (args, output)
        assert message in error_line(output), output
    assert existing.read_text() == "{}"
