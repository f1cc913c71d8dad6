"""The notebook package's shape: imports point one way (no cycle between its modules), and
``magics`` alone turns this package's errors into IPython's ``UsageError``."""

from __future__ import annotations

import ast
from pathlib import Path

import orchestrate_nb.notebook

PACKAGE = "orchestrate_nb.notebook"
ROOT = Path(orchestrate_nb.notebook.__file__).parent


def module_files() -> dict[str, Path]:
    files = {}
    for path in ROOT.rglob("*.py"):
        parts = [part for part in path.relative_to(ROOT).with_suffix("").parts
                 if part != "__init__"]
        files[".".join([PACKAGE, *parts])] = path
    return files


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST) -> list[str]:
    """Every module named by an import, also inside functions (a lazy import is still an
    arrow), but not under ``if TYPE_CHECKING`` (annotations only)."""
    found: list[str] = []
    for node in ast.iter_child_nodes(tree):
        if _type_checking_only(node):
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        found += _imports(node)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {module: {name for name in _imports(ast.parse(path.read_text(encoding="utf-8")))
                     if name in files and name not in (module, PACKAGE)}
            for module, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            cycle = visit(imported, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_no_import_cycle_inside_the_notebook_package():
    graph = import_graph()
    assert len(graph) > 30  # the walk found the package's modules
    assert find_cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_flow_commands_imports_the_graph_not_the_other_way_round():
    graph = import_graph()
    assert f"{PACKAGE}.graph.task_cells" in graph[f"{PACKAGE}.flow_commands"]
    for module, imported in graph.items():
        if module.startswith(f"{PACKAGE}.graph"):
            assert not {f"{PACKAGE}.flow_commands", f"{PACKAGE}.flow_run"} & imported, module


def test_only_magics_raises_usage_error():
    raising = []
    for module, path in module_files().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None and "UsageError(" in (
                    ast.unparse(node.exc).replace("NotebookUsageError(", "")):
                raising.append(module)
    assert raising == [f"{PACKAGE}.magics"]


def test_the_node_state_table_is_defined_once_and_sent_to_the_view():
    from orchestrate_nb.notebook.graph.states import NODE_STATES, state_table
    from orchestrate_nb.notebook.graph.widget import STATIC, RunGraph

    widget = RunGraph()
    try:
        assert widget.states == state_table()
        assert set(widget.get_state()["states"]) == set(NODE_STATES)
    finally:
        widget.close()
    view = (STATIC / "graph.js").read_text() + (STATIC / "graph.css").read_text()
    colours = {state.colour for state in NODE_STATES.values()} - {"#6e7781"}  # muted: default
    assert not [colour for colour in colours if colour in view]
    assert '"not cached"' not in view and "cancelled" not in view
