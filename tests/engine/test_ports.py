"""The engine's ports: one table names what the engine uses but never imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import orchestrate_nb
from orchestrate_nb import flow
from orchestrate_nb.engine import ports, reporting

ENGINE = Path(orchestrate_nb.__file__).parent / "engine"


def test_every_port_loads_its_default_implementation():
    for port in ports.PORTS:
        assert callable(ports.load(port)), port


def test_an_overridden_run_reporter_receives_a_flow_s_events(monkeypatch: pytest.MonkeyPatch):
    recorded = reporting.ListReporter()
    reporting.flush_and_close_store()
    restore = ports.override("run_reporter", lambda settings: recorded)
    try:

        @flow
        def tiny() -> int:
            return 1

        assert tiny() == 1
    finally:
        restore()
        reporting.flush_and_close_store()
    assert recorded.events, "the flow's events went to the overriding reporter"


def test_an_unknown_port_is_refused_with_the_names_of_the_ports():
    with pytest.raises(KeyError, match="run_reporter"):
        ports.override("run_reporterr", lambda settings: None)


def test_the_engine_imports_no_store_and_no_notebook_module():
    for module in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(("orchestrate_nb.store", "orchestrate_nb.notebook")), \
                    f"{module.name} imports {name}"
