"""OrderLedger domain: aggregates, events, invariants and the application's commands."""
