"""Static analysis of a ``%%task`` cell: the names it reads, binds, deletes and may mutate.

The analysis is conservative where it has to guess: a name counts as the cell's own only
when it was *definitely* bound earlier in the cell (straight-line code, or every branch of
an ``if``/``try``); otherwise reading it makes it an input. An extra input costs at most a
cache miss; a missed input would serve a stale result.

IPython syntax (``%time``, ``!ls``) is turned into Python by IPython's own transformer,
imported lazily and only when the cell is not valid Python as written.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import functools
import hashlib
import heapq
import io
import keyword
import re
import tokenize
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from orchestrate_nb.errors import OrchestrateError

Transform = Callable[[str], str]
Edge = tuple[str, str, str]

_BUILTINS = frozenset(dir(builtins))
_CODE_MAGICS = frozenset({"time", "timeit", "prun"})  # their argument is Python code
_SHELL_CALLS = frozenset({"system", "getoutput"})  # ``!cmd`` expands $name and {expr}
_SHELL_VARIABLE = re.compile(r"\$([A-Za-z_]\w*)|\{([^{}]+)\}")
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith,
             ast.Match, getattr(ast, "TryStar", ast.Try))
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class CellSyntaxError(OrchestrateError):
    """The cell is not valid Python, even after IPython's syntax was transformed."""


class OverrideError(OrchestrateError, ValueError):
    """``--inputs``/``--outputs`` named something that is not a Python name."""


class CellCycleError(OrchestrateError):
    """Task cells depend on each other in a circle, so no run order exists."""


class DuplicateCellNameError(OrchestrateError, ValueError):
    """Two task cells share a name, so dependencies between them would be ambiguous."""


@dataclass(frozen=True)
class CellAnalysis:
    """What a cell reads and binds; ``normalised`` and ``code_hash`` identify its code."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    mutated: tuple[str, ...]
    modules: tuple[str, ...]
    deleted: tuple[str, ...]
    star_import: bool
    last_expression: bool
    normalised: str
    code_hash: str
    # Builtin names the cell reads without binding them: inputs only if the user namespace
    # shadows them (``list = [...]`` in an earlier cell), which only the magic can see.
    builtins_read: tuple[str, ...] = ()


@dataclass
class _Scope:
    kind: str  # "function", "lambda", "class" or "comprehension"
    local: set[str]
    declared_global: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)  # class body: bound by this statement
    conditional: int = 0  # comprehension: the walker's conditional depth inside it


@functools.lru_cache(maxsize=1024)
def analyse_cell(source: str, transform: Transform | None = None) -> CellAnalysis:
    """Analyse a cell body; ``transform`` turns IPython syntax into Python (default: IPython's).

    The transform is applied only when ``source`` is not valid Python: IPython's
    transforms leave valid Python unchanged, and skipping them saves most of the time.
    """
    code, tree = _parse(source, transform)
    walker = _CellWalker()
    for statement in tree.body:
        walker.visit(statement)
    normalised = ast.dump(tree)
    return walker.result(
        normalised=normalised,
        code_hash=hashlib.blake2b(normalised.encode(), digest_size=16).hexdigest(),
        last_expression=_ends_with_expression(tree, code),
    )


def parse_override(names: str) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``, for ``--inputs``/``--outputs``; duplicates dropped."""
    parsed: dict[str, None] = {}
    for raw in names.split(","):
        name = raw.strip()
        if not name:
            continue
        if not name.isidentifier() or keyword.iskeyword(name):
            raise OverrideError(f"{name!r} is not a Python variable name; "
                                "--inputs/--outputs take names separated by commas, like a,b")
        parsed[name] = None
    return tuple(parsed)


def _parse(source: str, transform: Transform | None) -> tuple[str, ast.Module]:
    try:
        return source, ast.parse(source)
    except (SyntaxError, ValueError) as error:
        failure: SyntaxError | ValueError = error
    transform = transform or _ipython_transform()
    if transform is not None:
        code = transform(source)
        try:
            return code, ast.parse(code)
        except (SyntaxError, ValueError) as error:
            failure = error
    line = getattr(failure, "lineno", None)
    where = f" at line {line}" if line else ""
    reason = getattr(failure, "msg", None) or str(failure)
    raise CellSyntaxError(f"cell has a syntax error{where}: {reason}") from None


@functools.cache
def _ipython_transform() -> Transform | None:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return None
    return TransformerManager().transform_cell  # type: ignore[no-any-return]


def _ends_with_expression(tree: ast.Module, code: str) -> bool:
    """Whether IPython would display the cell's value: a final expression not ending in ``;``."""
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return False
    if ";" not in code:
        return True
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER,
               tokenize.INDENT, tokenize.DEDENT}
    tokens = [token.string for token in tokenize.generate_tokens(io.StringIO(code).readline)
              if token.type not in skipped]
    return not tokens or tokens[-1] != ";"


class _CellWalker(ast.NodeVisitor):
    """Walks module-level statements in order, tracking which names are definitely bound."""

    def __init__(self) -> None:
        self.definite: set[str] = set()
        self.inputs: dict[str, None] = {}  # dicts as ordered sets: first-use order
        self.outputs: dict[str, None] = {}
        self.deleted: dict[str, None] = {}
        self.mutated: dict[str, None] = {}
        self.modules: dict[str, None] = {}
        self.star_import = False
        self.scopes: list[_Scope] = []  # empty: module scope
        self.class_names: set[str] = set()  # module-level classes being defined
        self.branch_depth = 0  # inside if/for/while/try/match at module scope
        self.conditional = 0  # inside a short-circuit operand or comprehension

    # -- dispatch: ast.NodeVisitor's, with the method lookup cached per node type ------------

    def visit(self, node: ast.AST) -> None:
        method = _DISPATCH.get(type(node))
        if method is None:
            method = _DISPATCH[type(node)] = _dispatch_for(type(node))
        method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def result(self, normalised: str, code_hash: str, last_expression: bool) -> CellAnalysis:
        bound = self.outputs.keys()
        inputs = tuple(n for n in self.inputs if n not in _BUILTINS or n in bound)
        return CellAnalysis(
            inputs=inputs,
            outputs=tuple(self.outputs),
            mutated=tuple(n for n in self.mutated if n in inputs),
            modules=tuple(self.modules),
            deleted=tuple(self.deleted),
            star_import=self.star_import,
            last_expression=last_expression,
            normalised=normalised,
            code_hash=code_hash,
            builtins_read=tuple(n for n in self.inputs if n in _BUILTINS and n not in bound),
        )

    # -- names ---------------------------------------------------------------------------

    def _is_input(self, name: str) -> bool:
        """Whether reading ``name`` here reads a value the cell did not (definitely) bind."""
        innermost = len(self.scopes) - 1
        for depth in range(innermost, -1, -1):
            scope = self.scopes[depth]
            if scope.kind == "class" and depth != innermost:
                continue  # class bodies are not visible to the scopes nested in them
            if name in scope.declared_global:
                break
            if name in scope.local:
                return False
        if name in self.definite:
            return False
        # A function body runs only after the class around it is bound.
        deferred = any(scope.kind == "function" for scope in self.scopes)
        return not (deferred and name in self.class_names)

    def _read(self, name: str) -> None:
        if name not in self.inputs and self._is_input(name):
            self.inputs[name] = None

    def _bind(self, name: str, scope: _Scope | None) -> None:
        if scope is None:
            self._bind_global(name, definite=self.conditional == 0)
        elif name in scope.declared_global:
            self._bind_global(name, definite=False)
        elif scope.kind == "class":
            scope.pending.add(name)
        # function, lambda and comprehension locals are collected before their body is walked

    def _bind_global(self, name: str, *, definite: bool) -> None:
        self.outputs[name] = None
        if definite:
            self.definite.add(name)
            if self.branch_depth == 0:
                self.deleted.pop(name, None)

    def _innermost(self) -> _Scope | None:
        return self.scopes[-1] if self.scopes else None

    def _note_mutation(self, node: ast.expr) -> None:
        root = _root_name(node)
        if root is not None and self._is_input(root):
            self.mutated[root] = None

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id, self._innermost())
        elif not self.scopes:
            self.deleted[node.id] = None
            self.definite.discard(node.id)
            if self.branch_depth == 0:
                self.outputs.pop(node.id, None)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        # PEP 572: the target belongs to the nearest scope that is not a comprehension.
        owner = next((s for s in reversed(self.scopes) if s.kind != "comprehension"), None)
        self._bind(node.target.id, owner)
        inner = self._innermost()
        if inner and inner.kind == "comprehension" and inner.conditional == self.conditional:
            inner.local.add(node.target.id)  # what follows in this comprehension reads it

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._note_mutation(node.value)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._note_mutation(node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if _ipython_call(node) is not None:
            self._visit_ipython_call(node)
            return
        if isinstance(node.func, ast.Attribute):
            self._note_mutation(node.func.value)
        self.generic_visit(node)

    # -- statements that bind --------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.annotation)
        if node.value is not None or not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
            self.visit(node.value)
            self._bind(node.target.id, self._innermost())
        else:
            self.visit(node.target)
            self.visit(node.value)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            self.modules[top] = None
            self._bind(alias.asname or top, self._innermost())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self.modules[node.module.split(".")[0]] = None
        for alias in node.names:
            if alias.name == "*":
                self.star_import = True
            else:
                self._bind(alias.asname or alias.name, self._innermost())

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self.generic_visit(node)
        if node.name:
            self._bind(node.name, self._innermost())

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name, self._innermost())

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self._bind(node.rest, self._innermost())

    # -- scopes ----------------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_signature(node.args, node.returns)
        # Bound before the body is walked: the body runs only after the def completes.
        self._bind(node.name, self._innermost())
        self._visit_in_scope(node.body, _function_scope(node.args, node.body))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_signature(node.args, None)
        self._visit_in_scope([node.body], _function_scope(node.args, [node.body], "lambda"))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(child)
        at_module_level = not self.scopes
        if at_module_level:
            self.class_names.add(node.name)
        scope = _Scope("class", set(), _collect_bindings(node.body)[1])
        self.scopes.append(scope)
        for statement in node.body:
            self.visit(statement)
            if not isinstance(statement, _COMPOUND):  # conservative: branches don't count
                scope.local |= scope.pending
            scope.pending.clear()
        self.scopes.pop()
        if at_module_level:
            self.class_names.discard(node.name)
        self._bind(node.name, self._innermost())

    def _visit_signature(self, args: ast.arguments, returns: ast.expr | None) -> None:
        """Defaults and annotations are evaluated in the enclosing scope, at def time."""
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                self.visit(default)
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)
        if returns is not None:
            self.visit(returns)

    def _visit_in_scope(self, nodes: Iterable[ast.AST], scope: _Scope) -> None:
        self.scopes.append(scope)
        for child in nodes:
            self.visit(child)
        self.scopes.pop()

    def _visit_comprehension(self, node: ast.expr, results: list[ast.expr]) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)  # the first iterable runs in the enclosing scope
        targets = {n.id for g in generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        self.conditional += 1  # it may iterate zero times: its walruses bind maybe
        self.scopes.append(_Scope("comprehension", targets, conditional=self.conditional))
        for index, generator in enumerate(generators):
            if index:
                self.visit(generator.iter)
            for condition in generator.ifs:
                self.visit(condition)
        for result in results:
            self.visit(result)
        self.scopes.pop()
        self.conditional -= 1

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._visit_comprehension(node, [node.elt])

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self._visit_comprehension(node, [node.elt])

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._visit_comprehension(node, [node.elt])

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comprehension(node, [node.key, node.value])

    # -- conditional evaluation ------------------------------------------------------------

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self.visit(node.values[0])
        self.conditional += 1
        for value in node.values[1:]:
            self.visit(value)
        self.conditional -= 1

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        self.conditional += 1
        self.visit(node.body)
        self.visit(node.orelse)
        self.conditional -= 1

    def _branch(self, nodes: Iterable[ast.AST], start: set[str]) -> set[str]:
        """Walk one branch from ``start``; return the names definitely bound at its end."""
        saved, self.definite = self.definite, set(start)
        self.branch_depth += 1
        for child in nodes:
            self.visit(child)
        self.branch_depth -= 1
        ended, self.definite = self.definite, saved
        return ended

    def _merge(self, ends: list[set[str]]) -> None:
        if ends:
            self.definite = set.intersection(*ends)

    def visit_If(self, node: ast.If) -> None:
        if self.scopes:
            return self.generic_visit(node)
        self.visit(node.test)
        start = self.definite
        ends = [(self._branch(block, start), block) for block in (node.body, node.orelse)]
        self._merge([end for end, block in ends if _falls_through(block)] or [start])

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        if self.scopes:
            return self.generic_visit(node)
        self.visit(node.iter)
        self._branch([node.target, *node.body], self.definite)  # may run zero times
        self._branch(node.orelse, self.definite)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        if self.scopes:
            return self.generic_visit(node)
        self.visit(node.test)
        self._branch(node.body, self.definite)
        self._branch(node.orelse, self.definite)

    def visit_Try(self, node: ast.Try) -> None:
        if self.scopes:
            return self.generic_visit(node)
        start = self.definite
        body = self._branch(node.body, start)
        ends = []
        for handler in node.handlers:
            # The handler's name is unbound again when the handler ends: never an output.
            names = {handler.name} if handler.name else set()
            end = self._branch([*filter(None, [handler.type]), *handler.body], start | names)
            if _falls_through(handler.body):
                ends.append(end - names)
        self._merge([self._branch(node.orelse, body), *ends])
        self.definite |= self._branch(node.finalbody, start)

    visit_TryStar = visit_Try

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        if self.scopes:
            return self.generic_visit(node)
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        if any(_may_suppress(item.context_expr) for item in node.items):
            self._branch(node.body, self.definite)  # the body may stop at any line
        else:
            for statement in node.body:
                self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_Match(self, node: ast.Match) -> None:
        if self.scopes:
            return self.generic_visit(node)
        self.visit(node.subject)
        for case in node.cases:
            self._branch([case.pattern, *filter(None, [case.guard]), *case.body], self.definite)

    # -- IPython -----------------------------------------------------------------------------

    def _visit_ipython_call(self, node: ast.Call) -> None:
        """``%time x = f(y)`` runs its code here; ``!echo $x {y}`` reads x and y."""
        method = _ipython_call(node)
        text = [a.value for a in node.args if isinstance(a, ast.Constant)
                and isinstance(a.value, str)]
        if method == "run_line_magic" and len(text) == 2 and text[0] in _CODE_MAGICS:
            for statement in _parse_or_empty(text[1], "exec"):
                self.visit(statement)
        elif method in _SHELL_CALLS and text:
            for match in _SHELL_VARIABLE.finditer(text[0]):
                self._visit_expansion(match.group(1) or match.group(2))

    def _visit_expansion(self, expression: str) -> None:
        for tree in _parse_or_empty(expression, "eval"):
            self.visit(tree)


_DISPATCH: dict[type[ast.AST], Callable[[_CellWalker, ast.AST], None]] = {}


def _dispatch_for(node_type: type[ast.AST]) -> Callable[[_CellWalker, ast.AST], None]:
    method = getattr(_CellWalker, f"visit_{node_type.__name__}", None)
    if method is not None:
        return method  # type: ignore[no-any-return]
    if not node_type._fields:  # Load, Add, Eq...: nothing to read or bind
        return _ignore
    return _CellWalker.generic_visit


def _ignore(walker: _CellWalker, node: ast.AST) -> None:
    """Nothing to do for leaf nodes such as ``Load`` or ``Add``."""


def _parse_or_empty(code: str, mode: str) -> list[ast.AST]:
    try:
        tree = ast.parse(code.strip(), mode=mode)
    except (SyntaxError, ValueError):
        return []
    return list(tree.body) if isinstance(tree, ast.Module) else [tree]


def _ipython_call(node: ast.Call) -> str | None:
    """``"system"`` for ``get_ipython().system(...)`` and the like, else None."""
    func = node.func
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name) and func.value.func.id == "get_ipython"
            and func.attr in _SHELL_CALLS | {"run_line_magic", "run_cell_magic"}):
        return func.attr
    return None


def _root_name(node: ast.expr) -> str | None:
    """``df`` for ``df.loc[0].x``; None when the chain does not start at a name."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _falls_through(block: list[ast.stmt]) -> bool:
    return not (block and isinstance(block[-1], ast.Raise))


def _may_suppress(context: ast.expr) -> bool:
    """Whether a context manager looks like ``contextlib.suppress``, which can skip lines."""
    return any((isinstance(n, ast.Name) and "suppress" in n.id.lower())
               or (isinstance(n, ast.Attribute) and "suppress" in n.attr.lower())
               for n in ast.walk(context))


def _function_scope(args: ast.arguments, body: Sequence[ast.AST], kind: str = "function",
                    ) -> _Scope:
    bound, declared_global = _collect_bindings(body)
    params = (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg)
    bound |= {arg.arg for arg in params if arg is not None}
    return _Scope(kind, bound - declared_global, declared_global)


def _collect_bindings(body: Iterable[ast.AST]) -> tuple[set[str], set[str]]:
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


# -- dependencies between cells ------------------------------------------------------------


def dependency_edges(cells: Sequence[tuple[str, CellAnalysis]]) -> list[Edge]:
    """``(upstream, downstream, variable)`` for every input some other cell produces.

    The producer of a name is the latest cell *before* the reader that outputs it (what
    running the notebook top to bottom does); failing that, the latest cell after it.
    """
    _check_unique([name for name, _ in cells])
    producers: dict[str, list[int]] = {}
    for index, (_, analysis) in enumerate(cells):
        for variable in analysis.outputs:
            producers.setdefault(variable, []).append(index)
    edges: list[Edge] = []
    for index, (name, analysis) in enumerate(cells):
        for variable in analysis.inputs:
            producer = _producer(producers.get(variable, []), index)
            if producer is not None:
                edges.append((cells[producer][0], name, variable))
    return edges


def _producer(indexes: list[int], reader: int) -> int | None:
    before = bisect.bisect_left(indexes, reader)
    if before:
        return indexes[before - 1]
    return indexes[-1] if indexes and indexes[-1] > reader else None


def _check_unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DuplicateCellNameError(f"two task cells are named {name!r}; "
                                         "give one of them another name (%%task NAME)")
        seen.add(name)


def dependency_order(cells: Sequence[tuple[str, CellAnalysis]]) -> list[str]:
    """Cell names ordered so producers come first; otherwise notebook order is kept."""
    position = {name: index for index, (name, _) in enumerate(cells)}
    upstream: dict[str, set[str]] = {name: set() for name in position}
    downstream: dict[str, set[str]] = {name: set() for name in position}
    for up, down, _ in dependency_edges(cells):
        if up != down:
            upstream[down].add(up)
            downstream[up].add(down)
    waiting = {name: len(ups) for name, ups in upstream.items()}
    ready = [position[name] for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)  # among cells ready to run, the earliest in the notebook goes first
    order: list[str] = []
    while ready:
        name = cells[heapq.heappop(ready)][0]
        order.append(name)
        for down in downstream[name]:
            waiting[down] -= 1
            if waiting[down] == 0:
                heapq.heappush(ready, position[down])
    if len(order) < len(cells):
        raise CellCycleError(_describe_cycle(set(position) - set(order), upstream, position))
    return order


def _describe_cycle(stuck: set[str], upstream: dict[str, set[str]],
                    position: dict[str, int]) -> str:
    """Follow upstream links from a stuck cell until one repeats: that loop is a cycle."""
    path: list[str] = []
    current = min(stuck, key=position.__getitem__)
    while current not in path:
        path.append(current)
        current = min(upstream[current] & stuck, key=position.__getitem__)
    loop = path[path.index(current):][::-1]  # upstream first
    start = loop.index(min(loop, key=position.__getitem__))
    loop = loop[start:] + loop[:start]
    return (f"cells form a cycle: {' → '.join([*loop, loop[0]])}; "
            "reorder them or set --inputs/--outputs to break it")


def downstream_of(edges: Iterable[Edge], changed_cell: str) -> set[str]:
    """Every cell that depends, directly or through others, on ``changed_cell``."""
    children: dict[str, set[str]] = {}
    for up, down, _ in edges:
        children.setdefault(up, set()).add(down)
    stale: set[str] = set()
    frontier = [changed_cell]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in stale:
                stale.add(child)
                frontier.append(child)
    stale.discard(changed_cell)
    return stale
