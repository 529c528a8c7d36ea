# The two commands of the README: `make run` (mock upstream + service) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench clean

# The pinned requirements, then this checkout itself (editable, no further dependencies):
# that installs the `ticketsvc` command as .venv/bin/ticketsvc.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## Start the mock upstream on :9000 and the service under gunicorn on :8000 (Ctrl-C stops both).
run: $(STAMP)
	bash scripts/run_local.sh

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

## Everything but the slow end-to-end and load tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache artifacts
