# Kinoite Portal: `make run` serves the demo, `make test` runs every test, `make bench` measures.
# System packages come first: pip builds PyGObject, pycairo and python-ldap against their headers.
PYTHON ?= python3
export PYTHON
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cksum < pyproject.toml | cut -d' ' -f1)
# `make run` needs only the project itself; the test extra (python-ldap, Playwright, linters) comes with `make test`.
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)
SYSTEM := deploy/dev/install-system-packages.sh

.PHONY: run test lint bench setup setup-test system-run system-test system-bench clean

system-run:
	$(SYSTEM) run

system-test:
	$(SYSTEM) test

system-bench:
	$(SYSTEM) bench

NEW_VENV := test -x $(BIN)/python || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --upgrade pip; }

$(RUN_STAMP): pyproject.toml | system-run
	$(NEW_VENV)
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-run-*; touch $@

$(TEST_STAMP): pyproject.toml | system-test
	$(NEW_VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-test-*; touch $@

setup: system-run $(RUN_STAMP)

setup-test: system-test $(TEST_STAMP)

run: setup
	$(BIN)/python manage.py run_portal$(if $(RUN_ARGS), $(RUN_ARGS))

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: system-bench setup-test
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf var/test-*.sqlite3 .pytest_cache .mypy_cache .ruff_cache
