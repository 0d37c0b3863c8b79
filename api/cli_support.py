"""What the audit commands share: refusals as one line, reading a given file, a progress bar
over log positions, and linking the log before it is verified or exported."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli import console, fail
from api.runtime import Runtime
from domain.exceptions import DomainError
from replay.chain_follower import ChainProjection

P = ParamSpec("P")
R = TypeVar("R")


def refusing(command: Callable[P, R]) -> Callable[P, R]:
    """A refused key, checkpoint or bundle is one line and exit 1, wherever it is found."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DomainError as error:
            fail(error.message)

    return run


def read_given(path: Path) -> bytes:
    """A file named on the command line (a key, a checkpoint), or one line and exit 1."""
    try:
        return path.read_bytes()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")


@contextmanager
def position_bar(
    label: str, opened: Runtime, total: int | None = None
) -> Iterator[Callable[[int], None]]:
    """A transient bar up to `total` (default: the log head); call it with a position."""
    with count_bar(label, total or opened.ledger.head()) as advance:
        yield advance


@contextmanager
def count_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A transient bar up to `total`, on a terminal only; call it with the count done."""
    with Progress(
        TextColumn(f"{label:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda position: bar.update(task, completed=position)


def link_the_log(opened: Runtime) -> None:
    """Bring the recorded chain to the log head first, so the whole log is verified."""
    with position_bar("linking", opened) as advance:
        opened.runner.catch_up(ChainProjection.name, on_page=advance)
