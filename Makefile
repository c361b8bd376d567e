# FinFlow: `make demo` runs the whole pipeline on the embedded database; `make test` runs the tests.
# Needs only python3 (3.11+) and make: everything else is installed into .venv from PyPI.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DAYS ?= 1
PER_DAY ?= 10000

.PHONY: install demo test test-slow lint ui bench clean db-stop

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/finflow demo --days $(DAYS) --per-day $(PER_DAY)

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	FINFLOW_SLOW_TESTS=1 $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

ui: $(STAMP)
	$(BIN)/finflow ui

bench: $(STAMP)
	$(BIN)/python bench/bench_demo_day.py

db-stop:
	-$(BIN)/finflow db stop

clean: db-stop
	rm -rf .finflow dbt_project/target
