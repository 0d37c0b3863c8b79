"""Fault injection: the ledger under killed workers, database restarts, a hot SKU, and a
database that cannot be written. `python -m bench.faults.run` (`make faults`) runs them all."""
