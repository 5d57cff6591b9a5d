# Kinoite Portal: `make run` serves the demo, `make test` runs every test, `make bench` measures.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint bench setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP)
	deploy/dev/install-system-packages.sh run

run: setup
	$(BIN)/python manage.py run_portal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP)
	deploy/dev/install-system-packages.sh test
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	deploy/dev/install-system-packages.sh bench
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf var/test-*.sqlite3 .pytest_cache .mypy_cache .ruff_cache
