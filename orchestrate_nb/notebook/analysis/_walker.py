"""The scope walker behind ``analyse_cell``: which names a cell reads, binds, deletes and
may mutate, statement by statement, with Python's scoping rules (functions, lambdas,
classes, comprehensions, ``global``, the walrus) and definite-assignment tracking across
branches. Private: ``analysis.analyse_cell`` is the public entry point.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Iterable

from orchestrate_nb.notebook.analysis._branches import BranchesMixin
from orchestrate_nb.notebook.analysis._scopes import (
    NON_ALIASING_CALLS,
    SHELL_CALLS,
    Scope,
    collect_bindings,
    function_scope,
    ipython_call,
    mutates,
    parse_or_empty,
    root_name,
)

BUILTINS = frozenset(dir(builtins))
_CODE_MAGICS = frozenset({"time", "timeit", "prun"})  # their argument is Python code
_SHELL_VARIABLE = re.compile(r"\$([A-Za-z_]\w*)|\{([^{}]+)\}")
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith,
             ast.Match, getattr(ast, "TryStar", ast.Try))


class CellWalker(BranchesMixin, ast.NodeVisitor):
    """Walks module-level statements in order, tracking which names are definitely bound."""

    def __init__(self) -> None:
        self.definite: set[str] = set()
        self.inputs: dict[str, None] = {}  # dicts as ordered sets: first-use order
        self.outputs: dict[str, None] = {}
        self.deleted: dict[str, None] = {}
        self.mutated: dict[str, None] = {}
        # inputs whose value may be mutated out of sight: passed to a call, aliased by an
        # assignment, iterated over, or entered as a context manager
        self.escaped: dict[str, None] = {}
        self.changed: dict[str, None] = {}  # the subset of ``mutated`` that surely is
        self.modules: dict[str, None] = {}
        self.star_import = False
        self.scopes: list[Scope] = []  # empty: module scope
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

    def _bind(self, name: str, scope: Scope | None) -> None:
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

    def _innermost(self) -> Scope | None:
        return self.scopes[-1] if self.scopes else None

    def _note_mutation(self, node: ast.expr, certain: bool = True) -> None:
        root = root_name(node)
        if root is not None and self._is_input(root):
            self.mutated[root] = None
            if certain:
                self.changed[root] = None

    def _note_escape(self, node: ast.expr | None) -> None:
        if isinstance(node, ast.Starred):
            node = node.value
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            root = root_name(node)
            if root is not None and self._is_input(root):
                self.escaped[root] = None

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
        if ipython_call(node) is not None:
            self._visit_ipython_call(node)
            return
        if isinstance(node.func, ast.Attribute):
            self._note_mutation(node.func.value, mutates(node))
        if not (isinstance(node.func, ast.Name) and node.func.id in NON_ALIASING_CALLS):
            for argument in (*node.args, *(keyword.value for keyword in node.keywords)):
                self._note_escape(argument)
        self.generic_visit(node)

    # -- statements that bind --------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        self._note_escape(node.value)
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
        self._visit_in_scope(node.body, function_scope(node.args, node.body))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_signature(node.args, None)
        self._visit_in_scope([node.body], function_scope(node.args, [node.body], "lambda"))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(child)
        at_module_level = not self.scopes
        if at_module_level:
            self.class_names.add(node.name)
        scope = Scope("class", set(), collect_bindings(node.body)[1])
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

    def _visit_in_scope(self, nodes: Iterable[ast.AST], scope: Scope) -> None:
        self.scopes.append(scope)
        for child in nodes:
            self.visit(child)
        self.scopes.pop()

    def _visit_comprehension(self, node: ast.expr, results: list[ast.expr]) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)  # the first iterable runs in the enclosing scope
        targets = {n.id for g in generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        self.conditional += 1  # it may iterate zero times: its walruses bind maybe
        self.scopes.append(Scope("comprehension", targets, conditional=self.conditional))
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

    # -- IPython -----------------------------------------------------------------------------

    def _visit_ipython_call(self, node: ast.Call) -> None:
        """``%time x = f(y)`` runs its code here; ``!echo $x {y}`` reads x and y."""
        method = ipython_call(node)
        text = [a.value for a in node.args if isinstance(a, ast.Constant)
                and isinstance(a.value, str)]
        if method == "run_line_magic" and len(text) == 2 and text[0] in _CODE_MAGICS:
            for statement in parse_or_empty(text[1], "exec"):
                self.visit(statement)
        elif method in SHELL_CALLS and text:
            for match in _SHELL_VARIABLE.finditer(text[0]):
                self._visit_expansion(match.group(1) or match.group(2))

    def _visit_expansion(self, expression: str) -> None:
        for tree in parse_or_empty(expression, "eval"):
            self.visit(tree)


_DISPATCH: dict[type[ast.AST], Callable[[CellWalker, ast.AST], None]] = {}


def _dispatch_for(node_type: type[ast.AST]) -> Callable[[CellWalker, ast.AST], None]:
    method = getattr(CellWalker, f"visit_{node_type.__name__}", None)
    if method is not None:
        return method  # type: ignore[no-any-return]
    if not node_type._fields:  # Load, Add, Eq...: nothing to read or bind
        return _ignore
    return CellWalker.generic_visit


def _ignore(walker: CellWalker, node: ast.AST) -> None:
    """Nothing to do for leaf nodes such as ``Load`` or ``Add``."""

