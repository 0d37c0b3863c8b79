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
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run --write-docs
	$(BIN)/python -m bench.imports
	$(BIN)/python -m bench.exports --stores sqlite postgres
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.order_pages
	$(BIN)/python -m bench.stock_finance_pages
	$(BIN)/python -m bench.scaling

## Fault injection, full size (kills, database restarts, a hot SKU, a read-only and a full
## store); prints a table and rewrites docs/reliability.md. Needs root for the private
## PostgreSQL cluster and tmpfs mounts. `make test` runs a quick version (tests/faults).
faults: $(STAMP)
	$(BIN)/python -m bench.faults.run --write-docs

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
