"""`orderledger audit export|verify-export`: the audit bundle, written and checked.

Every refusal and every finding is one line on stderr and exit 1; a refused export writes
nothing (the bundle is built beside OUT and moved into place only when complete)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.cli import console, fail, runtime
from api.cli_support import link_the_log, position_bar, read_given, refusing
from api.replay_cli import parse_time
from replay import checkpoints
from replay.bundle_live import check_against_log
from replay.bundle_verify import Finding, verify_bundle
from replay.export import check_out, export_bundle
from replay.moments import resolve

FORMATS = ("dir", "zip")


@refusing
def export(
    out: Path, to_position: int | None, at: str | None, key_file: Path | None, fmt: str
) -> None:
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; formats are {', '.join(FORMATS)}")
    if to_position is not None and at is not None:
        fail("give --to-position or --at, not both")
    check_out(out, "zip" if fmt == "zip" else "dir")
    when = parse_time(at, "--at")
    key = checkpoints.load_private_key(read_given(key_file)) if key_file is not None else None
    with runtime() as opened:
        link_the_log(opened)
        moment = resolve(opened.ledger, position=to_position, at=when, now=datetime.now(UTC))
        with position_bar("exporting", opened, moment.position) as exported:
            done = export_bundle(
                opened.ledger, opened.store, out, moment, key=key,
                fmt="zip" if fmt == "zip" else "dir", on_page=exported,
            )  # fmt: skip
    signed = "signed" if done.signed else "UNSIGNED (no --key)"
    console.print(
        f"wrote {out}: {done.events} events, positions {done.first_position}.."
        f"{done.last_position}, head hash {done.head_hash.hex()}, {signed}",
        highlight=False,
        soft_wrap=True,
    )


def verify_export(bundle: Path, public_key: Path | None, against_log: bool) -> None:
    key = read_given(public_key) if public_key is not None else None
    try:
        with _bundle_bar(bundle) as advance:
            result = verify_bundle(bundle, key, on_line=advance)
    except Finding as finding:
        fail(f"{bundle}: {finding.line()}")
    held = _against_log(bundle, result.last_position) if against_log else None
    console.print(f"bundle verifies: {result.line()}", highlight=False, soft_wrap=True)
    if held is not None:
        console.print(
            f"the live log holds the bundle's {held[0]} events as its prefix (log head {held[1]})",
            highlight=False,
        )


@refusing
def _against_log(bundle: Path, last_position: int) -> tuple[int, int]:
    """(events compared, live log head), or exit 1 at the first departure."""
    with runtime() as opened:
        prefetch = opened.store.dialect == "postgres"
        try:
            with position_bar("comparing", opened, last_position) as advance:
                compared = check_against_log(
                    opened.ledger, bundle, last_position, prefetch=prefetch, on_page=advance
                )
        except Finding as finding:
            fail(f"the live log departs from the bundle: {finding.line()}")
        return compared, opened.ledger.head()


@contextmanager
def _bundle_bar(bundle: Path) -> Iterator[Callable[[int], None]]:
    """A bar over the bundle's positions (up to the manifest's last one, when readable)."""
    with Progress(
        TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), console=console,
        disable=not console.is_terminal,
        transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("verifying", total=_manifest_last(bundle))
        yield lambda position: bar.update(task, completed=position)


def _manifest_last(bundle: Path) -> int | None:
    try:
        value = json.loads((bundle / "manifest.json").read_bytes())["last_position"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) else None
