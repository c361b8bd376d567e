# FinFlow: `make demo` runs the whole pipeline on the embedded database; `make test` runs the tests.
# Needs only python3 (3.11+) and make: everything else is installed into .venv from PyPI.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DAYS ?= 1
PER_DAY ?= 10000

.PHONY: install browser demo test test-slow lint ui bench clean db-stop

# pip's output goes to $(VENV)/install.log and is shown only when the install fails. --no-compile: Python compiles
# the modules a command imports when it first imports them, not the thousands of installed files nothing imports;
# the pip that ships with Python 3.11 installs FinFlow as it is (docs/operating.md has the install time).
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input
$(STAMP): pyproject.toml
	@echo "installing FinFlow and its dependencies into $(VENV) (takes a few minutes the first time; log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --quiet --no-compile -e ".[dev]" > $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log; echo "pip install failed (log above, also in $(VENV)/install.log)"; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# The UI test (tests/ui) drives Debian's chromium; install it when we can (root with apt-get), else say so.
# FINFLOW_CHROMIUM points the test at another Chromium; without one the UI test is skipped with the reason.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -n "$$FINFLOW_CHROMIUM" ] || [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the UI test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
		echo "note: no $(CHROMIUM) and cannot apt-get it (needs root); tests/ui will be skipped" \
		     "(install Debian's chromium or set FINFLOW_CHROMIUM)"; \
	fi

demo: $(STAMP)
	@$(BIN)/finflow demo --days $(DAYS) --per-day $(PER_DAY)

# Tests run in parallel workers, each with its own data folder and embedded PostgreSQL (tests/conftest.py); a test
# file stays on one worker, so its module fixtures are built once. The ten slowest tests are listed at the end.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=10

test: $(STAMP) browser
	$(PYTEST)

# also the long variants (@pytest.mark.slow)
test-slow: $(STAMP) browser
	FINFLOW_SLOW_TESTS=1 $(PYTEST)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

ui: $(STAMP)
	$(BIN)/finflow ui

bench: $(STAMP)
	$(BIN)/python bench/bench_demo_day.py

db-stop:
	-$(BIN)/finflow db stop

clean: db-stop
	rm -rf .finflow dbt_project/target
