# OrderLedger — every entry point a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench faults install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Start the API on 127.0.0.1:8000 (SQLite under var/, demo data loaded when empty).
run: $(STAMP)
	$(BIN)/orderledger serve --demo-if-empty

## The whole test suite (PostgreSQL tests skip with a message when no server answers),
## spread over TEST_WORKERS processes (each test has its own store, schemas and ports).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=25

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Every benchmark on SQLite and PostgreSQL (about an hour on 2 CPUs), each figure beside the
## bare library's in the same run and its target; rewrites the tables in docs/performance.md.
## `make bench QUICK=1`: small counts, a few minutes, docs left alone.
bench: $(STAMP)
	$(BIN)/python -m bench.all $(if $(QUICK),--quick,--write-docs)

## Fault injection, full size (kills, database restarts, a hot SKU, a read-only and a full
## store); prints a table and rewrites docs/reliability.md. Needs root for the private
## PostgreSQL cluster and tmpfs mounts. `make test` runs a quick version (tests/faults).
faults: $(STAMP)
	$(BIN)/python -m bench.faults.run --write-docs

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
