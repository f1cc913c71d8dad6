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
import functools
import hashlib
import io
import keyword
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, replace

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.notebook.analysis._walker import BUILTINS, CellWalker
from orchestrate_nb.notebook.analysis.dependencies import (
    CellCycleError,
    DuplicateCellNameError,
    Edge,
    dependency_edges,
    dependency_order,
    downstream_of,
)

__all__ = [
    "CellAnalysis", "CellCycleError", "CellSyntaxError", "DuplicateCellNameError", "Edge",
    "OverrideError", "analyse_cell", "dependency_edges", "dependency_order", "downstream_of",
    "parse_override",
]

Transform = Callable[[str], str]
# "data/sales.csv", "./out", "parts/*.parquet", "sales.csv": a slash, or a name with an
# extension; no line breaks, no surrounding blanks
_PATH_LIKE = re.compile(r"(?=[^\n]{1,1024}$)"
                        r"(?:\S[^\n]*/[^\n]*|[\w.-]+\.[A-Za-z]\w{0,9})(?<!\s)")
_REMOTE = re.compile(r"[A-Za-z][\w+.-]*://\S+")


class CellSyntaxError(OrchestrateError):
    """The cell is not valid Python, even after IPython's syntax was transformed."""


class OverrideError(OrchestrateError, ValueError):
    """``--inputs``/``--outputs`` named something that is not a Python name."""



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
    # Inputs passed to a call, aliased, iterated or entered (``f(df)``, ``view = arr[:3]``):
    # the cell may mutate them where the analysis cannot see it.
    escaped: tuple[str, ...] = ()
    # The inputs ``mutated`` surely changes (item or attribute assignment, ``append``,
    # ``inplace=True``...), where ``mutated`` also counts any method call: a cell that
    # changes an input also produces it, for the edges between cells.
    changed: tuple[str, ...] = ()
    # Builtin names the cell reads without binding them: inputs only if the user namespace
    # shadows them (``list = [...]`` in an earlier cell), which only the magic can see.
    builtins_read: tuple[str, ...] = ()
    # String literals that look like file paths (``"data/sales.csv"``, ``"parts/*.parquet"``):
    # files a C library may read where Python's ``open`` does not see it.
    path_literals: tuple[str, ...] = ()
    # URLs and database addresses: inputs no file fingerprint can follow.
    remote_literals: tuple[str, ...] = ()


@functools.lru_cache(maxsize=1024)
def analyse_cell(source: str, transform: Transform | None = None) -> CellAnalysis:
    """Analyse a cell body; ``transform`` turns IPython syntax into Python (default: IPython's).

    The transform is applied only when ``source`` is not valid Python: IPython's
    transforms leave valid Python unchanged, and skipping them saves most of the time.
    """
    code, tree = _parse(source, transform)
    walker = CellWalker()
    for statement in tree.body:
        walker.visit(statement)
    normalised = ast.dump(tree)
    analysis = _analysis_of(walker, normalised, _ends_with_expression(tree, code))
    paths, remote = _literals(tree)
    return replace(analysis, path_literals=paths, remote_literals=remote)


def _analysis_of(walker: CellWalker, normalised: str, last_expression: bool) -> CellAnalysis:
    bound = walker.outputs.keys()
    inputs = tuple(n for n in walker.inputs if n not in BUILTINS or n in bound)
    return CellAnalysis(
        inputs=inputs,
        outputs=tuple(walker.outputs),
        mutated=tuple(n for n in walker.mutated if n in inputs),
        modules=tuple(walker.modules),
        deleted=tuple(walker.deleted),
        star_import=walker.star_import,
        last_expression=last_expression,
        normalised=normalised,
        code_hash=hashlib.blake2b(normalised.encode(), digest_size=16).hexdigest(),
        builtins_read=tuple(n for n in walker.inputs if n in BUILTINS and n not in bound),
        escaped=tuple(n for n in walker.escaped if n in inputs),
        changed=tuple(n for n in walker.changed if n in inputs),
    )


def _literals(tree: ast.Module) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Path-like and URL-like string constants of the code, in order, without repeats."""
    paths: dict[str, None] = {}
    remote: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if _REMOTE.match(text) and not text.startswith("file://"):
                remote[text] = None
            elif _PATH_LIKE.fullmatch(text) and "//" not in text:
                paths[text] = None
    return tuple(paths), tuple(remote)


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


