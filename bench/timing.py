"""Timing: workloads run in interleaved rounds, optionally under cProfile.

The machine is shared (tests, the PostgreSQL server and other jobs compete for two cores),
so a figure measured once can be off by a factor of two. Running every workload of a
store in turn, several rounds, and taking each one's median keeps a ratio between two
figures fair: both saw the same background load.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds
    cpu: float  # seconds of CPU used by this process (not by the database server)

    def per(self, count: int) -> Measured:
        rate = count / self.wall if self.wall > 0 else float("inf")
        return Measured(rate, self.cpu / count * 1e6 if count else 0.0)


@dataclass(frozen=True)
class Measured:
    """A throughput, and the CPU this process spent per call: background load moves the
    latter less, so it shows an overhead even when throughputs are noisy."""

    rate: float  # calls (or events) per wall-clock second
    cpu_us: float  # CPU microseconds per call (or event) in this process


@dataclass
class Profiler:
    """When given a directory, profiles every timed section (accumulated per label)."""

    directory: Path | None = None
    prefix: str = ""
    _profiles: dict[str, cProfile.Profile] = field(default_factory=dict)

    def for_store(self, store: str) -> Profiler:
        """The same profiler, naming its profiles after `store`."""
        return Profiler(self.directory, f"{store}-", self._profiles)

    def run(self, label: str, body: Callable[[], object]) -> Timing:
        """Run `body` and time it (profiled when a directory is set)."""
        if self.directory is not None:
            profile = self._profiles.setdefault(self.prefix + label, cProfile.Profile())
            body = partial(profile.runcall, body)
        wall, cpu = time.perf_counter(), time.process_time()
        body()
        return Timing(time.perf_counter() - wall, time.process_time() - cpu)

    def finish(self, lines: int = 25) -> list[str]:
        """Write one .prof per label; return the top of each, sorted by own time."""
        if self.directory is None:
            return []
        self.directory.mkdir(parents=True, exist_ok=True)
        reports = []
        for label, profile in self._profiles.items():
            profile.dump_stats(self.directory / f"{label}.prof")
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(lines)
            reports.append(f"== profile: {label} ==\n{out.getvalue()}")
        self._profiles.clear()
        return reports


@dataclass
class Workload:
    """`step(i)` repeated: `warmup` calls once, then `count` timed calls per round.

    `i` keeps counting across warm-up and rounds, so steps can derive unique keys from it.
    """

    label: str
    step: Callable[[int], object]
    count: int
    warmup: int = 0
    _next: int = 0

    def warm_up(self) -> None:
        self._calls(self.warmup)

    def timed(self, profiler: Profiler) -> Measured:
        """One round."""
        return profiler.run(self.label, lambda: self._calls(self.count)).per(self.count)

    def _calls(self, count: int) -> None:
        first, self._next = self._next, self._next + count
        for i in range(first, first + count):
            self.step(i)


def interleaved(profiler: Profiler, workloads: list[Workload], rounds: int) -> dict[str, Measured]:
    """Warm every workload up, run them in turn `rounds` times; each one's medians."""
    for workload in workloads:
        workload.warm_up()
    samples: dict[str, list[Measured]] = {w.label: [] for w in workloads}
    for _ in range(rounds):
        for workload in workloads:
            samples[workload.label].append(workload.timed(profiler))
    for label, values in samples.items():
        # The spread shows how much the shared machine disturbed a figure.
        shown = ", ".join(f"{value.rate:,.0f}" for value in values)
        print(f"  {label}: {shown} per s", file=sys.stderr)
    return {
        label: Measured(
            statistics.median(v.rate for v in values),
            statistics.median(v.cpu_us for v in values),
        )
        for label, values in samples.items()
    }
