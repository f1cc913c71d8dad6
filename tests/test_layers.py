"""Imports point one way (docs/architecture.md): the lower layers never import the upper."""

from __future__ import annotations

import ast
from pathlib import Path

import orchestrate_nb

PACKAGE = Path(orchestrate_nb.__file__).parent
UPPER = tuple(f"orchestrate_nb.{name}" for name in ("engine", "store", "notebook", "deploy",
                                                    "cli"))


def imports(module: Path, top_level_only: bool = False) -> list[str]:
    tree = ast.parse(module.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def test_results_imports_nothing_above_core_not_even_lazily():
    for module in (PACKAGE / "results").glob("*.py"):
        upward = [name for name in imports(module) if name.startswith(UPPER)]
        assert not upward, f"results/{module.name} imports {upward}"


def test_core_modules_import_only_core_and_the_foundation_when_loaded():
    for module in (PACKAGE / "core").glob("*.py"):
        upward = [name for name in imports(module, top_level_only=True)
                  if name.startswith(UPPER + ("orchestrate_nb.results",))]
        assert not upward, f"core/{module.name} imports {upward}"


def test_defining_a_task_and_a_flow_loads_no_engine_module():
    import subprocess
    import sys

    code = ("import sys\nfrom orchestrate_nb.core.tasks import task\n"
            "from orchestrate_nb.core.flows import flow\n"
            "@task(retries=2, retry_delay_seconds=[1, 2])\ndef t(x): return x\n"
            "@flow\ndef f(): return t(1)\n"
            "print(sorted(m for m in sys.modules if m.startswith('orchestrate_nb.engine')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
