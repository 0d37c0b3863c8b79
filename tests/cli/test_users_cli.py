"""`orderledger users`: the first administrator from the command line, on both stores."""

from __future__ import annotations

from typer.testing import CliRunner

from api.app import create_app
from api.cli import cli
from api.settings import Settings
from tests.api.conftest import TestClient, assert_problem
from tests.cli.test_cli import env_for


def run(settings: Settings, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env_for(settings), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_a_first_admin_is_created_from_the_cli_and_signs_in(settings: Settings) -> None:
    code, out, err = run(settings, "users", "create", "alice", "--role", "admin")
    assert code == 0, err
    key = out.strip()
    assert key.startswith("olk_")
    assert "\n" not in key
    assert "shown once" in err
    code, _, err = run(settings, "users", "set-password", "alice", "--password-stdin",
                       stdin="correct horse battery\n")  # fmt: skip
    assert code == 0, err

    with TestClient(create_app(settings)) as client:
        me = client.get("/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert (me.json()["username"], me.json()["role"]) == ("alice", "admin")
        signed = client.post(
            "/auth/sign-in", json={"username": "alice", "password": "correct horse battery"}
        )
        assert signed.status_code == 200, signed.text
        assert_problem(client.get("/products", headers={"Authorization": "Bearer nope"}), 401,
                       "unauthenticated")  # fmt: skip

    code, out, _ = run(settings, "users", "list")
    assert code == 0
    assert "alice" in out
    assert "admin" in out
    assert key.split("_", 2)[2] not in out
    code, out, err = run(settings, "users", "disable", "alice", "--reason", "left")
    assert (code, out.strip()) == (0, "disabled alice"), err
    with TestClient(create_app(settings)) as client:
        refused = client.get("/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert_problem(refused, 401, "unauthenticated")
    code, _, err = run(settings, "users", "disable", "alice")
    assert code == 1
    assert "already disabled" in err
    code, out, err = run(settings, "users", "enable", "alice")
    assert (code, out.strip()) == (0, "enabled alice"), err
    key_id = key.split("_")[1]
    code, out, err = run(settings, "users", "revoke-key", key_id)
    assert code == 0, err
    with TestClient(create_app(settings)) as client:
        refused = client.get("/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert_problem(refused, 401, "unauthenticated")


def test_bad_user_commands_are_one_line_and_store_nothing(settings: Settings) -> None:
    code, _, _ = run(settings, "users", "create", "alice", "--role", "admin")
    assert code == 0
    for args, stdin, message in (
        (("users", "create", "alice", "--role", "admin"), None, "user 'alice' already exists"),
        (("users", "create", "bob", "--role", "boss"), None, "unknown role 'boss'"),
        (("users", "create", "Bob Smith", "--role", "sales"), None, "username:"),
        (("users", "create", "carl", "--role", "customer"), None, "customer:"),
        (("users", "create", "dora", "--role", "customer", "--customer", "C-404"), None,
         "no customer account 'C-404'"),
        (("users", "set-password", "alice", "--password-stdin"), "short\n", "at least 12"),
        (("users", "set-password", "nobody", "--password-stdin"), "long enough pass\n",
         "user 'nobody' not found"),
        (("users", "revoke-key", "0123456789ab"), None, "key 0123456789ab not found"),
        (("users", "issue-key", "nobody"), None, "user 'nobody' not found"),
    ):  # fmt: skip
        code, out, err = run(settings, *args, stdin=stdin)
        assert code == 1, (args, out, err)
        assert message in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "olk_" not in out
    code, out, _ = run(settings, "users", "list")
    assert [line for line in out.splitlines() if "│" in line and "alice" not in line] == [
        line for line in out.splitlines() if "│ user" in line
    ]
