# The two commands of the README: `make demo` and `make test`. Each creates .venv when missing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

$(BIN)/journeys: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

.PHONY: demo check test lint bench screenshots
demo: $(BIN)/journeys
	$(BIN)/journeys simulate definitions/modem_swap.yaml \
		--customers definitions/scenarios/modem_swap/customers.yaml \
		--events definitions/scenarios/modem_swap/events.yaml \
		--start 2026-11-23T08:00:00+03:30 --days 30
	$(BIN)/python -m journeys.cli.demo

# The tests run in lanes, one pytest marker each (tests/conftest.py gives it by folder: tests/unit, tests/store,
# tests/temporal, tests/e2e, tests/faults, tests/browser). The fast lanes run on every core (pytest-xdist); the
# dev-server, fault-injection and browser lanes one test at a time, as their timings assume. One lane alone:
# `make test-unit`, ... The browser lane needs /usr/bin/chromium (Debian's `chromium`; .ci/run installs it).
FAST := unit or store or temporal
SLOW := e2e or fault

# What to run after every change: ruff and the fast lanes (pure code, SQLite and PostgreSQL, the time-skipping
# server), under 3 minutes on two cores.
check: $(BIN)/journeys
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n auto --dist worksteal -m "$(FAST)"

# Everything: ruff, the fast lanes, then the dev server's, the faults' and the browser's. CI runs this (.ci/run).
test: $(BIN)/journeys
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n auto --dist worksteal -m "$(FAST)"
	$(BIN)/pytest -q -m "$(SLOW)"
	$(BIN)/pytest -q -m browser  # a process of its own: Playwright's sync API keeps an event loop running

test-%: $(BIN)/journeys
	$(BIN)/pytest -q -m $*

# The README's pictures of the console, taken again (the browser lane checks them without replacing them).
screenshots: $(BIN)/journeys
	JOURNEYS_UPDATE_SCREENSHOTS=1 $(BIN)/pytest -q -m browser tests/browser/test_screenshots.py

bench: $(BIN)/journeys
	$(BIN)/python -m bench --quick
