# orchestrate_nb — the two fresh-machine commands are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install labextension demo lab test lint pytest bench bench-compare clean

## pip's build hook builds the JupyterLab extension (TypeScript in src/, style/, schema/)
## with jlpm: it needs Node.js >= 20.19 and the npm registry. Then the venv's copy of it is
## replaced by a link to the build, so `make labextension` (after editing src/) is enough.
LABEXT_INSTALLED := $(VENV)/share/jupyter/labextensions/orchestrate-nb/package.json
LAB_SOURCES := package.json yarn.lock tsconfig.json $(shell find src style schema -type f 2>/dev/null)

$(VENV)/.installed: pyproject.toml package.json yarn.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(VENV)/bin/jupyter-builder develop --overwrite .
	@test -f $(LABEXT_INSTALLED) || { echo "the JupyterLab extension was not built (is Node.js >= 20.19 installed?)"; exit 1; }
	touch $@

orchestrate_nb/labextension/package.json: $(LAB_SOURCES) | $(VENV)/.installed
	PATH="$(abspath $(VENV))/bin:$$PATH" jlpm build
	touch $@

labextension: orchestrate_nb/labextension/package.json

install: $(VENV)/.installed labextension

## The main job on the embedded default store (SQLite and results in ORCHESTRATE_NB_HOME):
## a parameterised notebook of %%task cells deployed on a schedule, one run triggered with a
## parameter and executed by a worker (papermill), its history; then a Python flow.
ORCH := $(VENV)/bin/orchestrate-nb
DEMO_NOTEBOOK := notebooks/reports/sales_report.ipynb

demo: install
	$(ORCH) deploy $(DEMO_NOTEBOOK) --name sales-report --cron "0 7 * * 1-5" -p region=west
	$(ORCH) deployment run sales-report -p days=10
	$(ORCH) worker start --run-once
	$(ORCH) deployment ls
	$(ORCH) runs show $$($(PY) examples/latest_run.py sales_report)
	$(ORCH) runs logs $$($(PY) examples/latest_run.py sales_report)
	$(PY) examples/etl_flow.py
	$(ORCH) runs ls --limit 5

## JupyterLab on 127.0.0.1 with the teaching notebooks (notebooks/), on the same store.
LAB_ARGS ?=
lab: install
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks $(LAB_ARGS)

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
	$(PY) benchmarks/bench_lab_start.py

bench-compare: install
	PYTHON=$(PY) PREFECT_VENV=$(abspath $(PREFECT_VENV)) bash benchmarks/setup_prefect_venv.sh
	$(PY) benchmarks/bench_compare.py --prefect-python $(PREFECT_VENV)/bin/python \
		--json benchmarks/results/compare.json $(BENCH_COMPARE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info \
		lib tsconfig.tsbuildinfo orchestrate_nb/labextension
