# orchestrate_nb — the two fresh-machine commands are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install demo test lint pytest bench bench-compare clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## Run an example flow on the embedded default store (SQLite in ORCHESTRATE_NB_HOME) and
## print the run history.
demo: install
	$(PY) examples/etl_flow.py
	$(VENV)/bin/orchestrate-nb runs ls --limit 5
	$(VENV)/bin/orchestrate-nb runs show $$($(PY) examples/latest_run.py)

## Lint, type-check and run the whole test suite.
test: lint pytest

lint: install
	$(VENV)/bin/ruff check orchestrate_nb tests benchmarks examples
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
