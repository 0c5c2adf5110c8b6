# The two commands of the README: `make demo` and `make test`. Each creates .venv when missing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

$(BIN)/journeys: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

.PHONY: demo test lint bench
demo: $(BIN)/journeys
	$(BIN)/journeys simulate definitions/modem_swap.yaml \
		--customers definitions/scenarios/modem_swap/customers.yaml \
		--events definitions/scenarios/modem_swap/events.yaml \
		--start 2026-11-23T08:00:00+03:30 --days 30
	$(BIN)/python -m journeys.cli.demo

test: $(BIN)/journeys
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(BIN)/journeys
	$(BIN)/python -m bench --quick
