"""What every fault ends with: read models caught up, then held to a fresh replay of the log."""

from __future__ import annotations

import time

from api.runtime import Runtime, notification_routing, read_models, scratch_stores
from replay.check import TableCheck, check_projections


def settle(runtime: Runtime, timeout: float = 300.0) -> None:
    """Catch every projection up until none lags: followers write events too."""
    deadline = time.monotonic() + timeout
    while any(status.lag for status in runtime.runner.status()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"read models still lag after {timeout:.0f} s")
        for name in runtime.runner.projections:
            runtime.runner.catch_up(name)


def replay_differences(runtime: Runtime) -> tuple[int, int, list[str]]:
    """Rows a replay has that the live read models lack (lost), rows the live ones have beyond
    the replay (counted twice, or never written by the log), and each differing table."""
    projections = read_models(None, notification_routing(runtime.settings))
    results = check_projections(
        runtime.ledger, runtime.store, runtime.runner, projections, scratch_stores(runtime.settings)
    )
    lost = duplicated = 0
    problems = []
    for check in results:
        extra_live, extra_replayed = _split(check)
        lost += extra_replayed
        duplicated += extra_live
        if not check.ok:
            problems.append(
                f"{check.projection}.{check.table}: {extra_replayed} rows missing, {extra_live}"
                f" extra against a replay at {check.position} (e.g. {check.only_live[:1]}"
                f" / {check.only_replayed[:1]})"
            )
    return lost, duplicated, problems


def _split(check: TableCheck) -> tuple[int, int]:
    """(live rows beyond the replay, replayed rows beyond the live ones), with multiplicity."""
    extra_live = (check.differing + check.live_rows - check.replayed_rows) // 2
    return extra_live, check.differing - extra_live
