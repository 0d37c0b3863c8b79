"""The quick version of each fault (`make faults` runs the full ones): bounded so the whole
directory costs well under a minute of CPU. Faults that restart, lock or fill a database need
a private PostgreSQL cluster and tmpfs mounts, so root and PostgreSQL's programs; without
them they skip with a message."""

from __future__ import annotations

import os
import shutil

import pytest

from bench.faults.cluster import BIN
from bench.faults.report import FaultResult


def require_root_and_initdb() -> None:
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root (tmpfs mounts, chattr) and runuser")
    if not (BIN / "initdb").exists():
        pytest.skip(f"needs PostgreSQL's programs in {BIN} (set PG_BIN)")


def assert_held(result: FaultResult) -> None:
    """Nothing found: no finding, nothing lost, nothing twice, nothing oversold."""
    assert result.problems == [], "\n".join(result.details())
    assert (result.lost, result.duplicated, result.oversold or 0) == (0, 0, 0), result.details()
    assert result.ok
