"""The `orderledger` command line: serve, demo, migrate, projections."""

from __future__ import annotations

import getpass
import secrets
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from api.errors import ApiError
from api.runtime import Runtime, open_runtime
from api.settings import Settings
from api.store_errors import STORE_ERRORS
from api.store_errors import describe as describe_store_error
from domain.exceptions import DomainError
from domain.values import Meta

cli = typer.Typer(
    help="OrderLedger: an event-sourced order-fulfilment ledger.", no_args_is_help=True
)
projections_cli = typer.Typer(help="Inspect, run and rebuild read models.", no_args_is_help=True)
cli.add_typer(projections_cli, name="projections")
finance_cli = typer.Typer(help="Receivables, payments and bank statements.", no_args_is_help=True)
cli.add_typer(finance_cli, name="finance")
audit_cli = typer.Typer(
    help="Trust the log: the hash chain, signed checkpoints, the audit trail, export bundles"
    " and read models checked against a replay.",
    no_args_is_help=True,
)
cli.add_typer(audit_cli, name="audit")
replay_cli = typer.Typer(
    help="The past: read models and aggregates as of a moment, explained and compared.",
    no_args_is_help=True,
)
cli.add_typer(replay_cli, name="replay")
cipher_cli = typer.Typer(
    help="Encryption of stored events: make a key, re-encrypt under a new one.",
    no_args_is_help=True,
)
cli.add_typer(cipher_cli, name="cipher")
console = Console()
errors = Console(stderr=True)


def cli_actor() -> str:
    """Who a command-line command is attributed to: the login running it."""
    return f"cli:{getpass.getuser()}"


def fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def load_settings() -> Settings:
    """The settings from the environment, or one line naming the variable that is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:  # a check across settings names its variables itself
            fail(message)
        fail(f"invalid ORDERLEDGER_{str(first['loc'][0]).upper()}: {message}")


@contextmanager
def runtime(start: bool | None = False) -> Iterator[Runtime]:
    """The system for one command; `start`: run the background workers (None: as the
    settings say)."""
    settings = load_settings()
    try:
        opened = open_runtime(settings, start_projections=start)
    except Exception as error:  # unreachable database, bad URL: one line, non-zero exit
        fail(f"cannot open the ledger: {_first_line(error)}")
    try:
        yield opened
    except DomainError as error:
        fail(error.message)
    except STORE_ERRORS as error:  # read-only, full, gone: one line, as at opening
        trouble = describe_store_error(error)
        if trouble is None:
            raise
        fail(f"{trouble.detail} ({_first_line(error)})")
    finally:
        opened.close()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    demo_if_empty: Annotated[
        bool, typer.Option(help="Load the demo data set into an empty ledger")
    ] = False,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    from api.app import create_app
    from api.log_privacy import logging_config
    from api.server import LedgerServer, server_config

    settings = load_settings()
    bind_host, bind_port = host or settings.host, port or settings.port
    with runtime(start=None) as opened:
        if demo_if_empty and opened.ledger.head() == 0:
            _load_demo(opened, 200)
        console.print(
            f"OrderLedger on [bold]http://{bind_host}:{bind_port}[/bold]  (console:"
            f" http://{bind_host}:{bind_port}/console, API docs: http://{bind_host}:{bind_port}/docs)"
        )
        if not opened.runner.running:
            console.print(
                "read models are not kept by this process (ORDERLEDGER_RUN_PROJECTIONS=false):"
                " run `orderledger projections run` beside it"
            )
        app = create_app(settings, runtime=opened)
        config = server_config(
            app, settings, host=bind_host, port=bind_port, log_config=logging_config()
        )
        server = LedgerServer(config, opened)
        # uvicorn re-raises Ctrl-C once it has shut down; uvicorn.run swallows it too.
        with suppress(KeyboardInterrupt):
            server.run()
        if not server.started:  # the port is taken, say: uvicorn has logged why
            raise typer.Exit(3)


@cli.command()
def migrate() -> None:
    """Create the event store and read-model tables (run once before several workers start)."""
    with runtime() as opened:
        console.print(f"ready: event store and {len(opened.runner.projections)} read models")


@cli.command()
def demo(
    skus: Annotated[int, typer.Option(min=10, max=5000, help="How many SKUs")] = 200,
    force: Annotated[bool, typer.Option(help="Load even if the ledger already has events")] = False,
) -> None:
    """Load the demo data set through the ledger's own commands."""
    with runtime() as opened:
        if opened.ledger.head() and not force:
            fail("the ledger already has events; use --force to add the demo data anyway")
        _load_demo(opened, skus)


def _load_demo(opened: Runtime, skus: int) -> None:
    from api.demo import load_demo

    with _progress("loading demo data", total=None) as advance:
        issued = load_demo(opened.ledger, skus=skus, progress=advance)
    console.print(f"demo data: {issued} commands, log head at {opened.ledger.head()}")
    catch_up_all(opened)
    # Late demo orders show on the SLA list with their breach recorded from the start.
    scanned = opened.sla.scan()
    catch_up_all(opened)
    console.print(f"SLA monitor: {scanned.recorded} orders late in their stage")
    folder = Path("var") if opened.settings.is_postgres else opened.settings.sqlite_path().parent
    path = folder / "demo-bank-statement.xml"
    entries = _write_demo_statement(opened, path)
    console.print(
        f"demo bank statement: {path} ({entries} entries; import it with"
        f" `orderledger finance import-statement {path}`)"
    )
    _demo_users(opened, folder / "demo-credentials.txt")
    catch_up_all(opened)


def _demo_users(opened: Runtime, path: Path) -> None:
    """One demo user per role, each with a fresh random key (never a fixed one), written
    to a file only its owner may read; the administrator's key is printed too."""
    from domain.workflows import ROLES

    meta = Meta(actor="demo", correlation_id=uuid.uuid4().hex, command="demo users",
                at=datetime.now(UTC), role="admin")  # fmt: skip
    lines = [
        "# OrderLedger demo users: user, role, API key (send as Authorization: Bearer),"
        " console password"
    ]
    admin_key, manager_password = "", ""
    for role in ROLES:
        name = f"demo.{role}"
        customer = "C-ALPINE" if role == "customer" else None  # a customer with orders
        password = secrets.token_urlsafe(12)
        opened.access.create_user(meta, name=name, role=role, customer=customer,
                                  password=password)  # fmt: skip
        _, key = opened.access.issue_key(meta, name=name, label="demo")
        lines.append(f"{name}\t{role}\t{key}\t{password}")
        admin_key = key if role == "admin" else admin_key
        manager_password = password if role == "manager" else manager_password
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")
    console.print(f"demo users: one per role, keys and console passwords in {path}")
    console.print(f"console: sign in as demo.manager with password {manager_password}")
    console.print("the administrator's key:")
    print(admin_key)


@cli.command("demo-statement")
def demo_statement(
    file: Annotated[Path, typer.Argument(help="Where to write the camt.053 statement")],
) -> None:
    """Write a bank statement (camt.053) paying some of the ledger's open invoices, the way
    customers pay: by invoice number, by exact amount, several at once, and one unknown."""
    with runtime() as opened:
        catch_up_all(opened)
        entries = _write_demo_statement(opened, file)
    console.print(f"wrote {file}: {entries} entries")


def _write_demo_statement(opened: Runtime, path: Path) -> int:
    from api.demo_statement import camt053, demo_entries

    today = datetime.now(UTC).date()
    with opened.store.read() as cur:
        entries = demo_entries(cur, today)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(camt053(entries, today))
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")
    return len(entries)


def catch_up_all(opened: Runtime) -> None:
    """Followers write events too (requisitions): repeat until every projection is at the head."""
    while any(status.lag for status in opened.runner.status()):
        for name in opened.runner.projections:
            opened.runner.catch_up(name)


@projections_cli.command("status")
def projections_status() -> None:
    """Position and lag of every projection."""
    with runtime() as opened:
        table = Table("projection", "position", "head", "lag")
        for status in opened.runner.status():
            table.add_row(status.name, str(status.position), str(status.head), str(status.lag))
        console.print(table)


@projections_cli.command("rebuild")
def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="Projection to rebuild (default: all)")] = None,
) -> None:
    """Rebuild from position 0 into shadow tables, then switch over.

    Several projections are rebuilt in one pass over the log: each page read and decoded
    once, then handed to every projection that reads its events."""
    with runtime() as opened:
        names = [name] if name else list(opened.runner.projections)
        unknown = [n for n in names if n not in opened.runner.projections]
        if unknown:
            fail(
                f"unknown projection {unknown[0]!r}; known: {', '.join(opened.runner.projections)}"
            )
        head = opened.ledger.head()
        label = f"rebuilding {names[0] if name else 'every read model'}"
        with _progress(label, total=head) as advance:
            folded = opened.runner.rebuild_all(names, on_page=advance)
        for each, count in folded.items():
            console.print(f"{each}: rebuilt from {count} events")


@projections_cli.command("run")
def projections_run(
    names: Annotated[
        list[str] | None, typer.Argument(help="Projections to run (default: all)")
    ] = None,
    report_seconds: Annotated[
        float, typer.Option(min=0.1, help="Log the positions this often while they move")
    ] = 10.0,
) -> None:
    """Run projection workers in the foreground until SIGTERM or Ctrl-C.

    Start several (each with some read models, or the same ones for a stand-by) against
    one PostgreSQL ledger and serve the API with ORDERLEDGER_RUN_PROJECTIONS=false."""
    from api import projection_worker

    with runtime() as opened:
        chosen = projection_worker.choose(opened, names or [])
        if isinstance(chosen, str):
            fail(chosen)
        projection_worker.configure_logging()
        with projection_worker.stop_signals() as stopping:
            projection_worker.run(opened, chosen, stopping, report_seconds)


@finance_cli.command("match")
def finance_match(
    bank_refs: Annotated[
        list[str] | None, typer.Option("--bank-ref", help="Only this payment (repeatable)")
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(help="Who runs the matching (recorded on events; default cli:<login>)"),
    ] = None,
) -> None:
    """Match payments waiting in the unapplied-cash queue by the rules in force."""
    from api.matching import matching_table, run_auto_match

    with runtime() as opened:
        meta = Meta(actor=actor or cli_actor(), correlation_id=uuid.uuid4().hex,
                    command="finance match",
                    at=datetime.now(UTC), role="finance")  # fmt: skip
        try:
            summary = run_auto_match(opened, meta, bank_refs)
        except ApiError as error:
            fail(error.detail)
        console.print(matching_table(summary))


@finance_cli.command("import-statement")
def finance_import_statement(
    file: Annotated[Path, typer.Argument(help="The statement: CSV or camt.053 XML")],
    format: Annotated[str, typer.Option(help="auto, csv or camt053")] = "auto",
    map_file: Annotated[
        Path | None, typer.Option("--map", help="Column map for CSV (JSON or YAML)")
    ] = None,
    skip_bad_lines: Annotated[
        bool, typer.Option(help="Import the good lines and list the bad ones as skipped")
    ] = False,
    match: Annotated[
        bool, typer.Option(help="Match the new payments by the matching rules at once")
    ] = True,
) -> None:
    """Import a bank statement, all or nothing: new credits become payments, matched to
    open invoices by the matching rules (each allocation names its rule)."""
    from api.statements_cli import import_statement_file

    import_statement_file(file, format, map_file, skip_bad_lines, match)


@audit_cli.command("verify")
def audit_verify(
    from_checkpoint: Annotated[
        Path | None, typer.Option(help="Also hold the log to this signed checkpoint")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="PEM public key the checkpoint was signed with")
    ] = None,
) -> None:
    """Recompute the hash chain from the log; exit 1 with the first finding."""
    from api.audit_cli import verify

    verify(from_checkpoint, public_key)


@audit_cli.command("keygen")
def audit_keygen(
    private: Annotated[Path, typer.Option("--private", help="Where to write the private key")],
    public: Annotated[Path, typer.Option("--public", help="Where to write the public key")],
) -> None:
    """Make an Ed25519 key pair (PEM) for signing checkpoints; never overwrites."""
    from api.audit_cli import keygen

    keygen(private, public)


@audit_cli.command("sign-checkpoint")
def audit_sign_checkpoint(
    key: Annotated[Path, typer.Option("--key", help="PEM private key to sign with")],
    out: Annotated[Path | None, typer.Option(help="Write here (default: stdout)")] = None,
) -> None:
    """Verify the log, then sign its chain head (position, hash, recorded time)."""
    from api.audit_cli import sign_checkpoint

    sign_checkpoint(key, out)


@audit_cli.command("verify-checkpoint")
def audit_verify_checkpoint(
    file: Annotated[Path, typer.Argument(help="The checkpoint (JSON)")],
    public_key: Annotated[Path, typer.Option(help="PEM public key it was signed with")],
) -> None:
    """Check a checkpoint's signature, then that the log up to it still gives its hash."""
    from api.audit_cli import verify_checkpoint

    verify_checkpoint(file, public_key)


@audit_cli.command("export")
def audit_export(
    out: Annotated[Path, typer.Argument(help="The bundle to write (a new folder or .zip)")],
    to_position: Annotated[int | None, typer.Option(help="Up to this log position")] = None,
    at: Annotated[
        str | None, typer.Option(help="Up to this recorded time, ISO with offset")
    ] = None,
    key: Annotated[Path | None, typer.Option(help="PEM private key to sign the head with")] = None,
    format: Annotated[str, typer.Option(help="dir or zip")] = "dir",
) -> None:
    """Write an audit bundle (events, chain, checkpoint, README, verifier) that verifies
    without the database; the log is verified first, and nothing is written if refused."""
    from api.export_cli import export

    export(out, to_position, at, key, format)


@audit_cli.command("verify-export")
def audit_verify_export(
    bundle: Annotated[Path, typer.Argument(help="The bundle folder or .zip")],
    public_key: Annotated[
        Path | None, typer.Option(help="PEM public key you trust (default: the bundle's)")
    ] = None,
    against_log: Annotated[
        bool, typer.Option(help="Also require the bundle's chain to be a prefix of the live log")
    ] = False,
) -> None:
    """Check a bundle as its own verify_bundle.py does; exit 1 with the first finding."""
    from api.export_cli import verify_export

    verify_export(bundle, public_key, against_log)


@audit_cli.command("check-projections")
def audit_check_projections(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Only this read model (repeatable)")
    ] = None,
) -> None:
    """Rebuild every read model at its live position into a scratch store and compare it
    with the live tables row by row; exit 1 on any difference."""
    from api.audit_cli import check_projections

    check_projections(only)


@replay_cli.command("as-of")
def replay_as_of(
    model: Annotated[str, typer.Argument(help="inventory, ageing or orders")],
    position: Annotated[int | None, typer.Option(help="Log position (1 … head)")] = None,
    at: Annotated[str | None, typer.Option(help="Recorded time, ISO with offset")] = None,
    effective: Annotated[
        str | None, typer.Option(help="Inventory effective at this business time")
    ] = None,
    sku: Annotated[str | None, typer.Option(help="Inventory of one SKU")] = None,
    customer: Annotated[str | None, typer.Option(help="Ageing or orders of one customer")] = None,
    as_of_date: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Ageing business day")
    ] = None,
) -> None:
    """A read model as known at a position or recorded time (default: now), replayed by the
    live projection code; inventory also as effective at a business time (bitemporal)."""
    from api.replay_cli import as_of

    day = as_of_date.date() if as_of_date else None
    as_of(model, position, at, effective, sku, customer, day)


@replay_cli.command("checkpoint")
def replay_checkpoint(
    model: Annotated[
        str | None, typer.Option(help="inventory, orders or receivables (default: all)")
    ] = None,
    every: Annotated[
        int | None, typer.Option(help="Events between checkpoints (default: the setting)")
    ] = None,
) -> None:
    """Build the missing read-model checkpoints every N events up to the head, each from the
    one before; as-of answers then fold only the events after the nearest one."""
    from api.checkpoints_cli import make

    make(model, every)


@replay_cli.command("checkpoints")
def replay_checkpoints(
    model: Annotated[str | None, typer.Option(help="Only this model")] = None,
    delete: Annotated[bool, typer.Option(help="Delete them (a cache: answers stay)")] = False,
) -> None:
    """List the read-model checkpoints, or delete them."""
    from api.checkpoints_cli import listing

    listing(model, delete)


@cipher_cli.command("new-key")
def cipher_new_key(
    out: Annotated[
        Path | None, typer.Option(help="Write it to this new file (mode 0600) instead of stdout")
    ] = None,
    size: Annotated[int, typer.Option("--bytes", help="Key length: 16, 24 or 32 bytes")] = 32,
) -> None:
    """Make a random AES key (base64) for ORDERLEDGER_CIPHER_KEY or _KEY_FILE; never
    overwrites a file."""
    from api.cipher_cli import new_key

    new_key(out, size)


@cipher_cli.command("rotate")
def cipher_rotate(
    encrypt_plain: Annotated[
        bool, typer.Option(help="Also encrypt states stored in plain (every server stopped)")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Only count what would be re-encrypted")] = False,
) -> None:
    """Re-encrypt every stored state (events and snapshots) under ORDERLEDGER_CIPHER_KEY,
    opening them with ORDERLEDGER_CIPHER_OLD_KEYS; resumable, a transaction per page."""
    from api.cipher_cli import rotate

    rotate(encrypt_plain=encrypt_plain, dry_run=dry_run)


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=not sys.stdout.isatty(),
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda completed: bar.update(task, completed=completed)


def main() -> None:
    cli()


# Registered last: the explain commands use this module's console, fail and runtime.
from api import explain_cli  # noqa: E402
from api.import_cli import import_file  # noqa: E402
from api.users_cli import users_cli  # noqa: E402

explain_cli.register(replay_cli, audit_cli)
cli.add_typer(users_cli, name="users")
cli.command("import")(import_file)
