"""The finance page's figures of one day — the ageing, DSO, unapplied cash — read once for
each state of the receivables read model, then shared by the page's views, sorts and pages.

The ageing of every customer reads every invoice dated by the day (about 0.1–0.2 s at
100,000 invoices); moving to page 2, sorting by total or opening the unapplied-cash tab
asks for the very same figures. They are kept per (day, receivables position): the
projection's tracking position is read first, in the same read as the figures, so a
figure kept under a position is never older than that position, and the next change to
the read model moves the position and so the key. A few days are kept per app.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI

from api.routes.ar import DEFAULT_PERIOD_DAYS
from api.runtime import Runtime
from projections import ar, matching

KEPT = 16


@dataclass(frozen=True)
class DayFigures:
    ageing: dict[str, Any]  # as `GET /ar/ageing?as_of=day` answers it
    dso: dict[str, Decimal | None]  # per currency, as `GET /ar/metrics?to=day` (30 days)
    dso_from: date
    unapplied: dict[str, tuple[Decimal, int]]  # per currency: money waiting, payments


class Kept:
    """The latest few answers by key (pages run in a thread pool, hence the lock)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[date, int], DayFigures] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[date, int]) -> DayFigures | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[date, int], figures: DayFigures) -> None:
        with self._lock:
            self._items[key] = figures
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def figures_of(app: FastAPI, rt: Runtime, day: date) -> DayFigures:
    """The day's figures, read now or kept from a read of the same read-model state."""
    kept: Kept | None = getattr(app.state, "finance_day_figures", None)
    if kept is None:
        kept = app.state.finance_day_figures = Kept(KEPT)
    with rt.store.read() as cur:
        key = (day, rt.runner.position("receivables", cur))
        found = kept.get(key)
        if found is None:
            found = _read(cur, day)
            kept.put(key, found)
    return found


def _read(cur: Any, day: date) -> DayFigures:
    ageing = ar.ageing(cur, as_of=day)
    start = day - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    owed = {code: total["total"] for code, total in ageing["totals"].items()}
    dso = ar.dso(cur, start=start, end=day, open_at_end=owed)
    return DayFigures(ageing, dso, start, matching.unapplied_totals(cur))
