"""`orderledger users …`: the first administrator and every later user, from the machine
that holds the ledger. Whoever runs these has the database in hand already; the events
they record name them as `cli:<login>` acting as admin.

Secrets never travel as arguments (other users of the machine can read those): a key is
printed once on standard output, a password is prompted for or read from standard input.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from api.cli import cli_actor, console, errors, fail, runtime
from domain.values import Meta
from domain.workflows import ROLES
from projections import queries

users_cli = typer.Typer(
    help="Users, their roles, API keys and passwords (no user exists until one is created).",
    no_args_is_help=True,
)


def _meta(command: str) -> Meta:
    return Meta(
        actor=cli_actor(), correlation_id=uuid.uuid4().hex,
        command=f"users {command}", at=datetime.now(UTC), role="admin",
    )  # fmt: skip


def _password(from_stdin: bool) -> str:
    if from_stdin:
        given = sys.stdin.readline().rstrip("\n")
        if not given:
            fail("no password on standard input")
        return given
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _print_key(key: str, name: str) -> None:
    errors.print(f"API key for {name} (shown once: store it now):", highlight=False)
    print(key)


@users_cli.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The user name (lower case)")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}")],
    customer: Annotated[
        str | None, typer.Option(help="The customer account (customer users only)")
    ] = None,
    display_name: Annotated[str, typer.Option(help="The name people see")] = "",
    password: Annotated[bool, typer.Option(help="Also set a password (prompted)")] = False,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input")
    ] = False,
    key: Annotated[bool, typer.Option(help="Issue an API key and print it once")] = True,
) -> None:
    """Create a user; by default also issue their first API key, printed once."""
    secret = _password(password_stdin) if password or password_stdin else None
    with runtime() as opened:
        meta = _meta("create")
        opened.access.create_user(
            meta, name=name, role=role, customer=customer, display_name=display_name,
            password=secret,
        )  # fmt: skip
        errors.print(f"created user {name} ({role})", highlight=False)
        if key:
            _, issued = opened.access.issue_key(meta, name=name, label="first key")
            _print_key(issued, name)


@users_cli.command("issue-key")
def issue_key(
    name: Annotated[str, typer.Argument(help="The user the key acts for")],
    label: Annotated[str, typer.Option(help="What the key is for")] = "",
) -> None:
    """Issue another API key for a user, printed once."""
    with runtime() as opened:
        _, issued = opened.access.issue_key(_meta("issue-key"), name=name, label=label)
        _print_key(issued, name)


@users_cli.command("revoke-key")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after olk_)")],
    reason: Annotated[str, typer.Option(help="Why")] = "revoked from the command line",
) -> None:
    """Revoke a key for good."""
    with runtime() as opened:
        opened.access.revoke_key(_meta("revoke-key"), key_id=key_id, reason=reason)
        console.print(f"revoked key {key_id}")


@users_cli.command("set-password")
def set_password(
    name: Annotated[str, typer.Argument(help="The user")],
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input")
    ] = False,
) -> None:
    """Set a user's password for console sign-in (prompted, or from standard input)."""
    secret = _password(password_stdin)
    with runtime() as opened:
        opened.access.set_password(_meta("set-password"), name=name, password=secret)
        console.print(f"password set for {name}")


@users_cli.command("role")
def change_role(
    name: Annotated[str, typer.Argument(help="The user")],
    role: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}")],
    customer: Annotated[str | None, typer.Option(help="For the customer role")] = None,
) -> None:
    """Move a user to another role (their sessions end)."""
    with runtime() as opened:
        opened.ledger.change_user_role(_meta("role"), name=name, role_=role, customer=customer)
        console.print(f"{name} is now {role}")


@users_cli.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The user")],
    reason: Annotated[str, typer.Option(help="Why")] = "disabled from the command line",
) -> None:
    """Stop a user at once: every key and session of theirs is refused."""
    _set_enabled(name, reason, enabled=False)


@users_cli.command("enable")
def enable(
    name: Annotated[str, typer.Argument(help="The user")],
    reason: Annotated[str, typer.Option(help="Why")] = "enabled from the command line",
) -> None:
    """Let a disabled user act again."""
    _set_enabled(name, reason, enabled=True)


def _set_enabled(name: str, reason: str, *, enabled: bool) -> None:
    verb = "enable" if enabled else "disable"
    with runtime() as opened:
        opened.ledger.set_user_enabled(_meta(verb), name=name, enabled=enabled, reason=reason)
        console.print(f"{verb}d {name}")


@users_cli.command("list")
def list_users() -> None:
    """Every user, their role and keys (never a secret)."""
    with runtime() as opened:
        opened.runner.catch_up("access")
        with opened.store.read() as cur:
            found = queries.users(cur)
    table = Table("user", "role", "customer", "status", "password", "keys (live/all)")
    for user in found:
        live = [k for k in user["keys"] if k["revoked_at"] is None]
        table.add_row(
            user["username"], user["role"], user["customer"] or "", user["status"],
            "yes" if user["has_password"] else "no", f"{len(live)}/{len(user['keys'])}",
        )  # fmt: skip
    console.print(table)
