"""The consolidated benchmark summary: figures recorded by each benchmark, judged against
their targets, written between the markers of docs/performance.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import all as bench_all
from bench.results import ENV, Result, read, record


def test_a_benchmark_run_alone_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    found = record("pages", "dashboard", "SQLite", 12.5, "ms", target=200, lower_is_better=True)
    assert found.met is True  # judged all the same, just not written anywhere


def test_records_land_one_json_line_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(ENV, str(results))
    record(
        "commands",
        "reserve",
        "SQLite",
        3_500,
        "commands/s",
        baseline=3_000,
        baseline_name="bare library",
        target=3_000,
        target_text="ratio ≥ 1.0",
    )
    record("replay", "rebuild", "PostgreSQL", 3_575, "log events/s", target=50_000)
    found = read(results)
    assert [r.figure for r in found] == ["reserve", "rebuild"]
    assert found[0].ratio == pytest.approx(3_500 / 3_000)
    assert found[0].met is True
    assert found[1].met is False
    assert found[1].cpus >= 1


def test_lower_is_better_targets_are_met_at_or_under_the_target() -> None:
    def page(ms: float) -> Result:
        return Result("pages", "ageing", "SQLite", ms, "ms", target=200, lower_is_better=True)

    assert page(200).met is True
    assert page(201).met is False
    assert page(150).ratio is None  # no bare-library baseline for a page


def test_the_summary_counts_and_explains_every_verdict() -> None:
    results = [
        Result(
            "replay",
            "full rebuild",
            "PostgreSQL",
            3_575,
            "log events/s",
            target=50_000,
            target_text="≥ 50,000 events/s",
            load=3.2,
            cpus=2,
        ),
        Result(
            "pages",
            "ageing, a new day",
            "SQLite",
            323,
            "ms",
            target=200,
            target_text="< 200 ms p95",
            lower_is_better=True,
            load=4.0,
            cpus=2,
            commit="abc1234",
        ),
        Result(
            "commands",
            "reserve",
            "SQLite",
            3_538,
            "commands/s",
            baseline=3_093,
            baseline_name="bare library: get | save",
            target=3_093,
            target_text="ratio ≥ 1.0",
            load=0.5,
            cpus=2,
        ),
        Result("finance", "matching engine", "memory", 15_409, "payments/s", cpus=2),
    ]
    block = bench_all.summary(
        results, quick=False, seconds=600, failed=["bench.dashboard (exit 1)"]
    )
    lines = block.splitlines()
    assert "**1 targets met, 2 missed** of 3 with a target" in block
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    # in the order of the areas: commands first, pages after replay and finance
    assert [row.split(" | ")[0] for row in rows] == [
        "| commands",
        "| replay",
        "| finance",
        "| pages",
    ]
    assert "| 1.14 |" in rows[0]
    assert "| met |" in rows[0]
    assert "bare library: get \\| save" in rows[0]  # a pipe in a cell does not split the row
    assert "**MISSED** (93% short)" in rows[1]
    assert "| — | — |" in rows[2]  # no baseline, no target
    assert "**MISSED** (62% over)" in rows[3]
    assert "| 2 CPUs, load 4.0, abc1234 |" in rows[3]
    assert lines[-1].startswith("Did not finish: bench.dashboard (exit 1)")


def test_the_summary_replaces_only_what_lies_between_its_markers(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text(
        f"# Performance\n\nbefore\n{bench_all.START}\nold table\n{bench_all.END}\nafter\n"
    )
    bench_all.write_summary(page, "new table")
    assert page.read_text() == (
        f"# Performance\n\nbefore\n{bench_all.START}\nnew table\n{bench_all.END}\nafter\n"
    )
    (tmp_path / "bare.md").write_text("no markers\n")
    with pytest.raises(SystemExit, match="no <!-- summary:start -->"):
        bench_all.write_summary(tmp_path / "bare.md", "table")


def test_each_benchmark_is_given_the_stores_as_it_reads_them() -> None:
    steps = {step.module: step for step in bench_all.STEPS}
    stores = ["sqlite", "postgres"]
    run = steps["run"].command(quick=True, stores=stores, write_docs=False)
    assert run[:3] == [sys.executable, "-m", "bench.run"]
    assert run[3:] == ["--quick", "--stores", "sqlite,postgres"]
    pages = steps["order_pages"].command(quick=False, stores=stores, write_docs=True)
    assert pages[-3:] == ["--stores", "sqlite", "postgres"]
    assert "--write-docs" not in pages
    assert steps["run"].command(False, stores, write_docs=True)[-1] == "--write-docs"


def test_a_quick_run_cannot_rewrite_the_docs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_all.main(["--quick", "--write-docs"])
    assert "not representative" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench_all.main(["--only", "run,nonsense"])
    assert "unknown benchmark(s): nonsense" in capsys.readouterr().err


def test_the_performance_page_has_the_summary_markers() -> None:
    text = bench_all.DOCS.read_text("utf-8")
    assert text.count(bench_all.START) == 1
    assert text.count(bench_all.END) == 1


def test_a_continued_run_replaces_only_the_figures_of_the_benchmarks_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(ENV, str(results))
    record("commands", "reserve", "SQLite", 1.0, "commands/s", bench="python -m bench.run")
    record("commands", "reserve", "PostgreSQL", 1.0, "commands/s", bench="python -m bench.run")
    record("finance", "engine", "memory", 1.0, "payments/s", bench="python -m bench.run")
    record("pages", "dashboard", "PostgreSQL", 2.0, "ms", bench="python -m bench.dashboard")
    steps = [step for step in bench_all.STEPS if step.module == "run"]
    bench_all.forget(results, steps, ["postgres"])
    assert [(r.figure, r.store) for r in read(results)] == [
        ("reserve", "SQLite"),
        ("dashboard", "PostgreSQL"),
    ]
