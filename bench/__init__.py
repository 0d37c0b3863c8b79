"""Throughput benchmarks: the ledger's command path and projections against the bare library.

Run `python -m bench.run` (or `make bench`); see docs/performance.md for what is measured.
"""
