"""The figures every benchmark hands on to the consolidated summary (`python -m bench.all`).

A benchmark calls `record(...)` for each figure worth a line in the summary: the value, the
bare library's figure measured in the same run when there is one (the ratio's denominator),
and the target the issues set. When `ORDERLEDGER_BENCH_RESULTS` names a file, each record
is appended to it as one JSON line, with the 1-minute load average at that moment; run on
its own, a benchmark records nothing and only prints its tables.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ENV = "ORDERLEDGER_BENCH_RESULTS"
COMMIT = "ORDERLEDGER_BENCH_COMMIT"
PAGE_TARGET_MS = 200  # server time p95 of a console page or list with 100,000 orders


@dataclass(frozen=True)
class Result:
    """One figure on one store."""

    area: str  # commands, projections, replay, audit, finance, pages, imports, scaling
    figure: str
    store: str  # SQLite, PostgreSQL, memory
    value: float
    unit: str  # events/s, ms p95, MB…
    baseline: float | None = None  # the bare library's figure on the same store, same run
    baseline_name: str = ""
    target: float | None = None  # in `unit` (a ratio target is converted by the caller)
    target_text: str = ""  # as the issue puts it: "≥ 70% of the library's create rate"
    lower_is_better: bool = False  # times and memory; rates are higher-is-better
    bench: str = ""  # the command that measured it
    load: float = 0.0  # 1-minute load average when it was recorded
    cpus: int = 0
    commit: str = ""  # of the code measured (`python -m bench.all` passes it on)

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.lower_is_better:
            return self.value <= self.target
        return self.value >= self.target

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Result:
        return cls(**json.loads(line))


def record(
    area: str,
    figure: str,
    store: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str = "",
    target: float | None = None,
    target_text: str = "",
    lower_is_better: bool = False,
    bench: str = "",
) -> Result:
    """Note a figure for the summary; written only when the summary asked for results."""
    found = Result(
        area,
        figure,
        store,
        float(value),
        unit,
        baseline,
        baseline_name,
        target,
        target_text,
        lower_is_better,
        bench,
        _load(),
        os.cpu_count() or 1,
        os.environ.get(COMMIT, ""),
    )
    path = os.environ.get(ENV)
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(found.to_json() + "\n")
    return found


def read(path: Path) -> list[Result]:
    if not path.exists():
        return []
    return [Result.from_json(line) for line in path.read_text("utf-8").splitlines() if line]


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # not every platform has it
        return 0.0
