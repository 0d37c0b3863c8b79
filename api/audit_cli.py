"""`orderledger audit …`: verify the hash chain, make keys, sign and check checkpoints.

Every refusal is one line on stderr and exit 1; a finding is a refusal too. Nothing is
written unless the command succeeds (keys and checkpoints are written last, whole)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli import console, fail, runtime
from api.cli_support import link_the_log, position_bar, read_given, refusing
from replay import audit, checkpoints
from replay.verify import Verification


@refusing
def verify(from_checkpoint: Path | None, public_key: Path | None) -> None:
    if (from_checkpoint is None) != (public_key is None):
        fail("--from-checkpoint and --public-key go together")
    with runtime() as opened:
        link_the_log(opened)
        if from_checkpoint is not None and public_key is not None:
            checkpoint, key = _checkpoint(from_checkpoint), _public_key(public_key)
            with position_bar("verifying", opened) as advance:
                result = audit.verify_checkpoint(
                    opened.ledger, opened.store, checkpoint, key, advance, whole_log=True
                )
        else:
            with position_bar("verifying", opened) as advance:
                result = audit.verify_log(opened.ledger, opened.store, advance)
    _report(result)


@refusing
def keygen(private: Path, public: Path) -> None:
    for path in (private, public):
        if path.exists():
            fail(f"{path} exists; keys are never overwritten")
    private_pem, public_pem = checkpoints.new_key_pair()
    _write(private, private_pem, mode=0o600)
    _write(public, public_pem)
    console.print(f"wrote {private} (keep it off the server) and {public}")


@refusing
def sign_checkpoint(key_file: Path, out: Path | None) -> None:
    if out is not None and out.exists():
        fail(f"{out} exists; checkpoints are never overwritten")
    key = checkpoints.load_private_key(read_given(key_file))
    with runtime() as opened:
        link_the_log(opened)
        with position_bar("verifying", opened) as advance:
            checkpoint = audit.sign_checkpoint(opened.ledger, opened.store, key, advance)
    text = json.dumps(checkpoint.as_json(), indent=2) + "\n"
    if out is None:
        print(text, end="")
        return
    _write(out, text.encode())
    console.print(f"wrote {out}: position {checkpoint.position}, hash {checkpoint.hash.hex()}")


@refusing
def verify_checkpoint(file: Path, public_key: Path) -> None:
    checkpoint, key = _checkpoint(file), _public_key(public_key)
    with runtime() as opened:
        link_the_log(opened)
        with position_bar("verifying", opened, checkpoint.position) as advance:
            result = audit.verify_checkpoint(opened.ledger, opened.store, checkpoint, key, advance)
    _report(result, f"checkpoint at position {checkpoint.position} holds")


def _report(result: Verification, prefix: str = "") -> None:
    if result.finding is not None:
        fail(result.finding.line())
    lead = f"{prefix}; " if prefix else ""
    console.print(
        f"{lead}verified {result.verified} events up to position {result.position},"
        f" head hash {result.head_hash.hex()}",
        highlight=False,
    )


def _checkpoint(path: Path) -> checkpoints.Checkpoint:
    return checkpoints.parse(read_given(path))


def _public_key(path: Path) -> Ed25519PublicKey:
    return checkpoints.load_public_key(read_given(path))


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def check_projections(only: list[str] | None) -> None:
    """Each read model replayed by its own projection code up to its live position and
    compared with the live tables; the differing rows are shown, and any makes exit 1."""
    from api.replay_cli import scratch_for
    from api.runtime import notification_routing, read_models
    from replay.check import TableCheck
    from replay.check import check_projections as check

    with runtime() as opened:
        projections = read_models(None, notification_routing(opened.settings))
        known = [p.name for p in projections]
        unknown = sorted(set(only or ()) - set(known))
        if unknown:
            fail(f"unknown read model {unknown[0]!r}; read models are {', '.join(known)}")
        chosen = [p for p in projections if not only or p.name in only]
        with Progress(
            TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
        ) as bar:  # fmt: skip
            task = bar.add_task("checking", total=sum(len(p.tables) for p in chosen))

            def checked(result: TableCheck) -> None:
                bar.update(task, advance=1, description=result.table)

            results = check(opened.ledger, opened.store, opened.runner, chosen,
                            scratch_for(opened.settings), on_checked=checked)  # fmt: skip
    bad = [r for r in results if not r.ok]
    for r in bad:
        console.print(
            f"[red]{r.projection}.{r.table}[/red] at position {r.position}: {r.differing}"
            f" differing rows (live {r.live_rows}, replayed {r.replayed_rows})",
            highlight=False,
        )
        for row in r.only_live:
            console.print(f"  only live:     {row}", highlight=False, soft_wrap=True)
        for row in r.only_replayed:
            console.print(f"  only replayed: {row}", highlight=False, soft_wrap=True)
    if bad:
        fail(f"{len(bad)} of {len(results)} read-model tables differ from a replay of the log")
    console.print(
        f"{len(results)} read-model tables of {len(chosen)} read models equal a replay of the"
        " log at their positions"
    )
