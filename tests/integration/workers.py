"""Code that runs in spawned worker processes (importable by name, no test fixtures)."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from bench.faults.hot_sku import reserve_units


def reserving_process(
    settings_json: str, who: str, attempts: int, go: Event, results: Queue[Any]
) -> None:
    from api.runtime import open_runtime
    from api.settings import Settings

    runtime = open_runtime(Settings.model_validate_json(settings_json), start_projections=False)
    try:
        results.put(("ready", who, None))
        go.wait(60)
        results.put(
            ("done", who, dict(reserve_units(runtime.ledger, who, attempts, "SKU-1", "WH1")))
        )
    except BaseException as error:
        results.put(("done", who, {f"crashed {type(error).__name__}: {error}": 1}))
    finally:
        runtime.close()
