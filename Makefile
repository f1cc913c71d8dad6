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

## Benchmarks: `make bench` prints our figures beside plain-Python baselines and the targets
## (BENCH_ARGS="--quick" for a smoke run); `make bench-compare` runs the same workloads on
## Prefect 3 (its own virtualenv, made on first use) and on ours, with the ratios.
BENCH_ARGS ?=
BENCH_COMPARE_ARGS ?=
PREFECT_VENV ?= benchmarks/.venv-prefect

bench: install
	$(PY) benchmarks/bench_core.py --json benchmarks/results/core.json $(BENCH_ARGS)
	$(PY) benchmarks/bench_cache.py
	$(PY) benchmarks/bench_cells.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_runners.py
	$(PY) benchmarks/bench_widget.py --json benchmarks/results/widget.json
	$(PY) benchmarks/bench_scheduler.py
	$(PY) benchmarks/bench_deploy.py

bench-compare: install
	PYTHON=$(PY) PREFECT_VENV=$(abspath $(PREFECT_VENV)) bash benchmarks/setup_prefect_venv.sh
	$(PY) benchmarks/bench_compare.py --prefect-python $(PREFECT_VENV)/bin/python \
		--json benchmarks/results/compare.json $(BENCH_COMPARE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
