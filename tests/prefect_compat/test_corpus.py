"""Each Prefect 3 script of the corpus runs, in a fresh process, with only its imports
changed (see corpus.py); a feature we refuse is refused in one line naming it."""

from __future__ import annotations

import pytest

from tests.prefect_compat.corpus import run_snippet, snippet_paths, swap_imports


@pytest.mark.parametrize("path", snippet_paths(), ids=lambda p: p.stem)
def test_the_prefect_script_runs_with_only_its_imports_changed(path):
    outcome = run_snippet(path)
    assert outcome.passed, outcome.detail


def test_only_import_lines_change():
    source = ("from prefect import flow, task\nimport prefect.runtime\n"
              "from prefect.runtime import flow_run\nx = 'from prefect import flow'\n")
    assert swap_imports(source) == (
        "from orchestrate_nb import flow, task\n"
        "import orchestrate_nb.runtime; import orchestrate_nb as prefect\n"
        "from orchestrate_nb.runtime import flow_run\nx = 'from prefect import flow'\n")
