"""A projection worker for the kill fault: the runner's own loop, as `orderledger projections
run` starts it, in a process of its own, telling its parent when it is inside a page.

`begun` counts pages whose rows began to be written (inside the page's transaction),
`committed` those that committed: a kill while `begun > committed` landed in the middle of
a page. Each page also lingers `linger`
seconds inside its transaction, so a kill finds one open.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import SecretStr

from api.runtime import open_runtime
from api.settings import Settings
from projections.base import Projection
from projections.runner import Page, ProjectionRunner


def settings_json(settings: Settings) -> str:
    """The settings for a child process, keys included (`model_dump_json` masks secrets)."""
    data = settings.model_dump(mode="json")
    for name, value in settings:
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
    return json.dumps(data)


def run_worker(
    settings_json: str, page_size: int, linger: float, begun: Any, committed: Any
) -> None:
    """Follow the log until killed (the parent's SIGKILL is the only way this ends)."""
    runtime = open_runtime(Settings.model_validate_json(settings_json), start_projections=False)
    runner = runtime.runner
    runner.page_size = page_size
    for projection in runner.projections.values():
        projection.apply = _lingering(projection.apply, linger, begun)  # type: ignore[method-assign]
    runner._apply_page = _counted(runner, begun, committed)  # type: ignore[method-assign]
    runner.start()
    while True:
        time.sleep(60)


def _lingering(apply: Any, linger: float, begun: Any) -> Any:
    def lingering_apply(cur: Any, events: Any) -> None:
        begun.value += 1  # the page's transaction is open and holds the tracking row
        apply(cur, events)
        time.sleep(linger)  # inside the page's transaction

    return lingering_apply


def _counted(runner: ProjectionRunner, begun: Any, committed: Any) -> Any:
    apply_page = runner._apply_page

    def counted(projection: Projection, name: str, position: int, page: Page) -> bool:
        applied = apply_page(projection, name, position, page)
        committed.value = begun.value  # the page (if any) committed
        return applied

    return counted
