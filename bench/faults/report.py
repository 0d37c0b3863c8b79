"""What one fault's trials found, and the table every run prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

COLUMNS = ("fault", "store", "trials", "commands", "lost", "duplicated", "oversold",
           "max recovery s", "result")  # fmt: skip


@dataclass
class FaultResult:
    """The figures of one fault on one store; `problems` are findings (empty: it held)."""

    fault: str
    store: str
    trials: int = 0
    commands: int = 0
    lost: int = 0
    duplicated: int = 0
    oversold: int | None = None
    recovery_seconds: float | None = None  # the longest, over the trials
    seconds: float = 0.0  # wall time of the whole fault
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # outcomes by kind, for the notes

    @property
    def ok(self) -> bool:
        return not self.problems and self.lost == 0 and self.duplicated == 0 and not self.oversold

    def recovered_in(self, seconds: float) -> None:
        self.recovery_seconds = max(self.recovery_seconds or 0.0, seconds)

    def details(self) -> list[str]:
        """Findings first, then notes and counted outcomes."""
        counted = ", ".join(f"{kind}: {n:,}" for kind, n in sorted(self.counts.items()))
        return (
            [f"FINDING: {p}" for p in self.problems] + self.notes + ([counted] if counted else [])
        )

    def cells(self) -> tuple[str, ...]:
        return (
            self.fault, self.store, f"{self.trials:,}", f"{self.commands:,}", f"{self.lost:,}",
            f"{self.duplicated:,}", "–" if self.oversold is None else f"{self.oversold:,}",
            "–" if self.recovery_seconds is None else f"{self.recovery_seconds:.2f}",
            "held" if self.ok else "FAILED",
        )  # fmt: skip


def text_table(results: list[FaultResult]) -> str:
    """A plain table for the terminal, with every finding and note under it."""
    rows = [COLUMNS, *(r.cells() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in results:
        lines += [f"  {r.fault} on {r.store}: {detail}" for detail in r.details()]
    return "\n".join(lines)


def markdown_table(results: list[FaultResult]) -> str:
    rows = [COLUMNS, tuple("---" for _ in COLUMNS), *(r.cells() for r in results)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
