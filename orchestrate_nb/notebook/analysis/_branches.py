"""Definite assignment across control flow, for the cell walker: a name is the cell's own
only when every path that reaches a read has bound it (both arms of an ``if``, a ``try``
and each handler that falls through...); loops may run zero times, short-circuit operands
and conditional expressions may not run at all.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any

from orchestrate_nb.notebook.analysis._scopes import falls_through, may_suppress


class BranchesMixin:
    """The walker's visits of branching code (``CellWalker`` provides the state)."""

    definite: set[str]
    branch_depth: int
    conditional: int
    scopes: list[Any]

    def visit(self, node: ast.AST) -> None:
        raise NotImplementedError

    def generic_visit(self, node: ast.AST) -> None:
        raise NotImplementedError

    def _note_escape(self, node: ast.expr | None) -> None:
        raise NotImplementedError

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
        self._merge([end for end, block in ends if falls_through(block)] or [start])

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        if self.scopes:
            return self.generic_visit(node)
        self.visit(node.iter)
        self._note_escape(node.iter)
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
            if falls_through(handler.body):
                ends.append(end - names)
        self._merge([self._branch(node.orelse, body), *ends])
        self.definite |= self._branch(node.finalbody, start)

    visit_TryStar = visit_Try

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        if self.scopes:
            return self.generic_visit(node)
        for item in node.items:
            self.visit(item.context_expr)
            self._note_escape(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        if any(may_suppress(item.context_expr) for item in node.items):
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
