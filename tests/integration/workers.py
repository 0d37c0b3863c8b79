"""Code that runs in spawned worker processes (importable by name, no test fixtures)."""

from __future__ import annotations

from collections import Counter
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from domain.exceptions import ConcurrencyExhausted, DomainError
from domain.ledger import Ledger
from tests.conftest import command_meta


def reserve_units(
    ledger: Ledger, who: str, attempts: int, sku: str, warehouse: str
) -> Counter[str]:
    """Try to reserve one unit `attempts` times; count outcomes by rule.

    A ConcurrencyExhausted answer is retried, as a client told "503, retry later" would.
    """
    outcomes: Counter[str] = Counter()
    for n in range(attempts):
        while True:
            try:
                ledger.reserve(
                    command_meta("reserve", actor=who), sku=sku, warehouse=warehouse,
                    order_ref=f"{who}-{n}", quantity_="1",
                )  # fmt: skip
                outcomes["reserved"] += 1
            except ConcurrencyExhausted:
                outcomes["retried-after-exhaustion"] += 1
                continue
            except DomainError as error:
                outcomes[error.rule] += 1
            except Exception as error:  # anything else is a finding: report it, keep going
                outcomes[f"unexpected {type(error).__name__}: {error}"] += 1
            break
    return outcomes


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
