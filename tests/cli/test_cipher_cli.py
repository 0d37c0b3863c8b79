"""`orderledger cipher` and the cipher settings on the command line, on real SQLite and
PostgreSQL: keys are made private, a bad or wrong key is one line and exit 1, and a rotation
re-encrypts the log once and is refused while another one runs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cipher_cli import rotation_lock
from api.cli import cli
from api.settings import Settings
from domain.cipher import new_key, parse_key
from tests.conftest import settings_env


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_a_new_key_is_printed_or_written_to_a_private_file_never_over_another(
    tmp_path: Path,
) -> None:
    code, output = run({}, "cipher", "new-key", "--bytes", "16")
    assert code == 0, output
    assert len(parse_key(output.strip())) == 16
    key = tmp_path / "ledger.key"
    code, output = run({}, "cipher", "new-key", "--out", str(key))
    assert code == 0, output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(parse_key(key.read_text())) == 32
    written = key.read_text()
    code, output = run({}, "cipher", "new-key", "--out", str(key))
    assert (code, output) == (1, f"error: cannot write {key}: File exists\n")
    assert key.read_text() == written
    assert run({}, "cipher", "new-key", "--bytes", "20")[1] == (
        "error: AES keys are 16, 24 or 32 bytes, not 20\n"
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"ORDERLEDGER_CIPHER_KEY": "not a key!"}, "ORDERLEDGER_CIPHER_KEY is not base64"),
        ({"ORDERLEDGER_CIPHER_KEY": "c2hvcnQ="}, "ORDERLEDGER_CIPHER_KEY is 5 bytes; AES keys"),
        ({"ORDERLEDGER_CIPHER_KEY_FILE": "/nonexistent/key"}, "cannot read /nonexistent/key"),
        ({"ORDERLEDGER_CIPHER_OLD_KEYS": new_key()}, "ORDERLEDGER_CIPHER_OLD_KEYS needs"),
    ],
)
def test_a_bad_key_setting_is_one_line_and_exit_1(
    tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    env = {"ORDERLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", **variables}
    for command in (["projections", "status"], ["cipher", "rotate"], ["replay", "checkpoints"]):
        code, output = run(env, *command)
        assert code == 1, output
        assert output.startswith("error: "), output
        assert message in output, output
        assert output.count("\n") == 1, output
    assert not (tmp_path / "ledger.db").exists()  # nothing opened, nothing made


def test_a_key_file_open_to_other_users_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "ledger.key"
    key.write_text(new_key() + "\n")
    key.chmod(0o644)
    env = {"ORDERLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
           "ORDERLEDGER_CIPHER_KEY_FILE": str(key)}  # fmt: skip
    assert run(env, "migrate") == (
        1,
        f"error: ORDERLEDGER_CIPHER_KEY_FILE: {key} is open to other users (mode 0644);"
        f" `chmod 600 {key}` first\n",
    )
    key.chmod(0o640)
    code, output = run(env, "migrate")
    assert code == 0, output


def test_a_rotation_on_the_command_line_and_the_keys_each_step_needs(settings: Settings) -> None:
    old, new = new_key(), new_key()
    env = {**settings_env(settings), "ORDERLEDGER_CIPHER_KEY": old}
    code, output = run(env, "demo", "--skus", "10")
    assert code == 0, output
    rotating = {**env, "ORDERLEDGER_CIPHER_KEY": new, "ORDERLEDGER_CIPHER_OLD_KEYS": old}
    code, output = run(rotating, "cipher", "rotate", "--dry-run")
    assert code == 0, output
    assert "0 already under the current key;" in output
    assert "would be encrypted" in output
    with rotation_lock(Settings(**settings_env_fields(settings))):
        assert run(rotating, "cipher", "rotate") == (
            1, "error: another key rotation is running on this event store\n",
        )  # fmt: skip
    code, output = run(rotating, "cipher", "rotate")
    assert code == 0, output
    assert "remove ORDERLEDGER_CIPHER_OLD_KEYS" in output
    rotated = {**env, "ORDERLEDGER_CIPHER_KEY": new}
    code, output = run(rotated, "audit", "verify")
    assert code == 0, output
    assert output.startswith("verified ")
    code, output = run(env, "audit", "verify")  # the old key alone
    assert code == 1
    assert output.startswith("error: cannot open the ledger: the stored events do not decrypt")
    assert output.count("\n") == 1, output


def settings_env_fields(settings: Settings) -> dict[str, str]:
    return {"database_url": settings.database_url, "events_schema": settings.events_schema}
