# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest smoke chaos clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "make: Python 3.11 or newer is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/journey dev

test: $(STAMP) lint typecheck pytest

# ruff, then the package map's import contracts (pyproject.toml: [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Two pytest processes, each with its own servers on free ports: the tests mostly wait on those
# servers, so two halve the run even on a two-core machine. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

smoke: $(STAMP)
	$(BIN)/journey dev --smoke

# Nightly-style: killed workers and consumers, restarted servers (tests/chaos, a few minutes).
chaos: $(STAMP)
	$(BIN)/pytest -m chaos -s -p no:cacheprovider tests/chaos

clean:
	rm -rf $(VENV) .journey .mypy_cache .pytest_cache .ruff_cache
