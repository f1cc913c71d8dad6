"""Scopes for the cell walker: what a function, lambda, class or comprehension binds, and
small questions about AST nodes (the root name of ``df.loc[0].x``, IPython calls...).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SHELL_CALLS = frozenset({"system", "getoutput"})  # ``!cmd`` expands $name and {expr}
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
# Callables that neither mutate their arguments nor return something aliasing them.
NON_ALIASING_CALLS = frozenset({
    "len", "print", "repr", "str", "int", "float", "bool", "isinstance", "issubclass",
    "type", "id", "hash", "sum", "abs", "round", "format", "display", "hasattr", "callable",
    "any", "all",
})
# Methods that change their object (lists, dicts, sets, arrays), whatever the library.
_MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "popitem", "remove", "clear", "sort", "reverse",
    "update", "setdefault", "add", "discard", "difference_update", "intersection_update",
    "symmetric_difference_update", "fill", "resize", "put", "itemset", "__setitem__",
    "__delitem__", "__iadd__",
})


@dataclass
class Scope:
    kind: str  # "function", "lambda", "class" or "comprehension"
    local: set[str]
    declared_global: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)  # class body: bound by this statement
    conditional: int = 0  # comprehension: the walker's conditional depth inside it




def parse_or_empty(code: str, mode: str) -> list[ast.AST]:
    try:
        tree = ast.parse(code.strip(), mode=mode)
    except (SyntaxError, ValueError):
        return []
    return list(tree.body) if isinstance(tree, ast.Module) else [tree]


def ipython_call(node: ast.Call) -> str | None:
    """``"system"`` for ``get_ipython().system(...)`` and the like, else None."""
    func = node.func
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name) and func.value.func.id == "get_ipython"
            and func.attr in SHELL_CALLS | {"run_line_magic", "run_cell_magic"}):
        return func.attr
    return None


def root_name(node: ast.expr) -> str | None:
    """``df`` for ``df.loc[0].x``; None when the chain does not start at a name."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def falls_through(block: list[ast.stmt]) -> bool:
    return not (block and isinstance(block[-1], ast.Raise))


def may_suppress(context: ast.expr) -> bool:
    """Whether a context manager looks like ``contextlib.suppress``, which can skip lines."""
    return any((isinstance(n, ast.Name) and "suppress" in n.id.lower())
               or (isinstance(n, ast.Attribute) and "suppress" in n.attr.lower())
               for n in ast.walk(context))


def function_scope(args: ast.arguments, body: Sequence[ast.AST], kind: str = "function",
                    ) -> Scope:
    bound, declared_global = collect_bindings(body)
    params = (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg)
    bound |= {arg.arg for arg in params if arg is not None}
    return Scope(kind, bound - declared_global, declared_global)


def collect_bindings(body: Iterable[ast.AST]) -> tuple[set[str], set[str]]:
    """Names a scope binds anywhere in its body (not global or nonlocal), and its globals."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    declared_nonlocal: set[str] = set()
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                bound.add(node.id)
            continue
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            declared_nonlocal.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        stack.extend(_children_in_same_scope(node))
    return bound - declared_global - declared_nonlocal, declared_global


def _children_in_same_scope(node: ast.AST) -> Iterable[ast.AST]:
    """Child nodes evaluated in ``node``'s scope (a nested def contributes its name only)."""
    if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
        yield ast.Name(node.name, ast.Store())
        yield from node.decorator_list
        if isinstance(node, ast.ClassDef):
            yield from (*node.bases, *node.keywords)
        else:
            yield from (*node.args.defaults, *filter(None, node.args.kw_defaults))
    elif isinstance(node, ast.Lambda):
        yield from (*node.args.defaults, *filter(None, node.args.kw_defaults))
    elif isinstance(node, ast.comprehension):
        yield from (node.iter, *node.ifs)  # targets are the comprehension's own
    else:
        yield from ast.iter_child_nodes(node)


def mutates(call: ast.Call) -> bool:
    """``xs.append(1)``, ``df.drop(columns=c, inplace=True)``: surely changes its object."""
    method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    return method in _MUTATING_METHODS or any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords)
