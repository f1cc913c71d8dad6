"""A ``%%task`` cell body compiled the way IPython compiles a cell: IPython syntax transformed,
the source registered with ``linecache`` under a cell filename (tracebacks then show the
cell's lines, "Cell In[7], line 3"), and a final expression split off so its value can be
displayed like IPython's ``Out[7]``.

Line numbers count from the cell's first line, the ``%%task`` line itself.
"""

from __future__ import annotations
import __future__

import ast
import inspect
from dataclasses import dataclass
from types import CodeType
from typing import Any

_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


@dataclass(frozen=True)
class CompiledCell:
    filename: str
    body: CodeType  # every statement but a displayed final expression
    last_expression: CodeType | None  # evaluated for its value, or None

    def run(self, namespace: dict[str, Any]) -> tuple[bool, Any]:
        """Execute in ``namespace``: ``(True, value)`` when there is a value to display."""
        _run(self.body, namespace)
        if self.last_expression is None:
            return False, None
        return True, _run(self.last_expression, namespace)


def _run(code: CodeType, namespace: dict[str, Any]) -> Any:
    """``eval`` the code; a cell with a top-level ``await`` gives a coroutine, run to its end
    (on a private loop in a helper thread: the kernel's own loop is busy running this)."""
    result = eval(code, namespace)
    if code.co_flags & inspect.CO_COROUTINE:
        from orchestrate_nb.engine.calls import run_coro_sync
        from orchestrate_nb.notebook.file_access import following

        return run_coro_sync(following(result))
    return result


def compile_cell(shell: Any, body: str, magic_line: str, filename: str | None,
                 displays_value: bool) -> CompiledCell:
    """Compile ``body`` (raises SyntaxError pointing into the cell).

    ``filename`` None: register the cell with IPython's compiler under the current
    execution count (the "Cell In[n]" label); else register the text under ``filename``
    (cells read from a saved notebook by ``%flow run``)."""
    text = f"{magic_line}\n{body}"
    if filename is None:
        filename = shell.compile.cache(text, _execution_count(shell), raw_code=text)
    else:
        from orchestrate_nb.notebook.tracebacks import register_source

        register_source(filename, text)
    tree = _parse(shell, body, filename)
    flags = getattr(shell.compile, "flags", 0) & _FUTURE_FLAGS  # from __future__ imports
    flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    last = None
    if displays_value and tree.body and isinstance(tree.body[-1], ast.Expr):
        expression = ast.Expression(tree.body.pop().value)  # type: ignore[attr-defined]
        last = compile(expression, filename, "eval", flags=flags, dont_inherit=True)
    return CompiledCell(filename, compile(tree, filename, "exec", flags=flags,
                                          dont_inherit=True), last)


def _parse(shell: Any, body: str, filename: str) -> ast.Module:
    """The body's syntax tree, its line numbers counted from the magic line (the leading
    newline stands for it). IPython's transforms run only when the body is not Python
    already: they leave Python unchanged, and skipping them is most of the cost."""
    try:
        return ast.parse("\n" + body, filename)
    except (SyntaxError, ValueError):
        pass
    return ast.parse("\n" + str(shell.transform_cell(body)), filename)


def _execution_count(shell: Any) -> int:
    result = getattr(shell.displayhook, "exec_result", None)
    count = getattr(result, "execution_count", None)
    return int(count) if count is not None else int(shell.execution_count)
