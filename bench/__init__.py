"""Benchmarks: the ledger's command path and projections against the bare library, and the
SLA monitor over a large orders read model.

Run `python -m bench.run` (or `make bench`); see docs/performance.md for what is measured.
"""
