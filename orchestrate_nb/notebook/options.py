"""The options of ``%%task`` and ``%flow``: parsed with IPython's ``magic_arguments`` (an unknown
option or a bad value is one ``NotebookUsageError`` line) into plain values the rest of the package
uses. The same parser reads the ``%%task`` lines of a saved notebook for ``%flow run``.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from orchestrate_nb.errors import NotebookUsageError
from orchestrate_nb.notebook.analysis import OverrideError, parse_override

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|min|sec|d|h|m|s)?", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0, "sec": 1.0,
                 "ms": 0.001, None: 1.0}
_NAME = re.compile(r"[A-Za-z_][\w.-]*")


@dataclass(frozen=True)
class CellOptions:
    """What a ``%%task`` line asks for; None means "the configured default"."""

    name: str | None = None
    retries: int | None = None
    retry_delay: float | None = None
    timeout: float | None = None
    tags: tuple[str, ...] = ()
    no_cache: bool = False
    refresh: bool = False
    cache_expiration: float | None = None  # seconds
    inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None
    files: tuple[str, ...] = ()  # --files patterns: files the cell reads (and may write)


def parse_duration(text: str) -> float:
    """``"2h"`` → 7200.0; also ``90``, ``1.5h``, ``1h30m``, ``500ms``, ``2d``."""
    compact = text.strip().replace(" ", "")
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        unit = match.group(2).lower() if match.group(2) else None
        total += float(match.group(1)) * _UNIT_SECONDS[unit]
        position = match.end()
    if not compact or position != len(compact) or total <= 0:
        raise ValueError(f"{text!r} is not a duration; write e.g. 90, 30s, 15m, 2h or 1d")
    return total


def _duration(what: str) -> Any:
    def convert(text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise NotebookUsageError(f"{what}: {exc}") from None

    return convert


def _non_negative(kind: type, what: str) -> Any:
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise NotebookUsageError(f"{what} must be a number, got {text!r}") from None
        if value < 0:
            raise NotebookUsageError(f"{what} must not be negative, got {text!r}")
        return value

    return convert


@magic_arguments()
@argument("name", nargs="?", help="the task's name in run history and %%flow (default: "
          "cell-<hash of its code>)")
@argument("--retries", type=_non_negative(int, "--retries"), metavar="N",
          help="run the cell again up to N times when it raises")
@argument("--retry-delay", type=_non_negative(float, "--retry-delay"), metavar="SECONDS",
          help="wait this long before each retry")
@argument("--timeout", type=_duration("--timeout"), metavar="SECONDS",
          help="fail the cell when it runs longer than this (90, 30s, 5m...)")
@argument("--tags", metavar="a,b", help="tags of the task run, separated by commas")
@argument("--no-cache", action="store_true",
          help="always run the cell, and do not store its result")
@argument("--refresh", action="store_true",
          help="run the cell even if it is cached, and replace the cached result")
@argument("--cache-expiration", type=_duration("--cache-expiration"), metavar="DURATION",
          help="cached results expire after this long (30m, 2h, 7d...)")
@argument("--inputs", metavar="a,b", help="the names the cell reads (instead of inferring "
          "them)")
@argument("--outputs", metavar="x,y", help="the names the cell defines (instead of inferring "
          "them)")
@argument("--files", metavar="PATTERN,...", help="files the cell reads where Python's open "
          "does not see it (pyarrow, C libraries): paths, globs (data/*.csv) or directories")
def task_arguments(line: str, cell: str | None = None) -> None:
    """Run the cell as a task: recorded in run history, cached by its code and the values of
    the variables it reads, with retries and a timeout.

    On a cache hit the cell does not run: the variables it defines, its printed output and
    its displays come back, with a badge saying how long that saved."""


def parse_task_line(line: str) -> CellOptions:
    """The options of a ``%%task`` line (without the ``%%task`` itself)."""
    args = _parse(task_arguments, line, "%%task")
    if args.name is not None and not _NAME.fullmatch(args.name):
        raise NotebookUsageError(f"{args.name!r} is not a task name; use letters, digits, _ . -")
    return CellOptions(
        name=args.name, retries=args.retries, retry_delay=args.retry_delay,
        timeout=args.timeout, tags=_split(args.tags), no_cache=args.no_cache,
        refresh=args.refresh, cache_expiration=args.cache_expiration,
        inputs=_override(args.inputs), outputs=_override(args.outputs),
        files=_split(args.files))


def _parse(arguments: Any, line: str, magic: str) -> Any:
    try:
        return parse_argstring(arguments, line)
    except (UsageError, NotebookUsageError) as exc:  # argparse's mistakes, or our converters'
        raise NotebookUsageError(f"{magic}: {exc}{_suggestion(arguments, str(exc))}") from None


def _suggestion(arguments: Any, message: str) -> str:
    """``; did you mean --retries?`` for ``unrecognized arguments: --retires``."""
    if "unrecognized arguments:" not in message:
        return ""
    known = [o for o in arguments.parser._option_string_actions if o.startswith("--")]
    for word in message.partition("unrecognized arguments:")[2].split():
        close = difflib.get_close_matches(word.partition("=")[0], known, n=1, cutoff=0.75)
        if word.startswith("-") and close:
            return f"; did you mean {close[0]}?"
    return ""


def _split(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _override(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    try:
        return parse_override(text)
    except OverrideError as exc:
        raise NotebookUsageError(str(exc)) from None


@magic_arguments()
@argument("--name", help="the flow run's name")
@argument("--stale", action="store_true",
          help="run only the cells that are stale or never ran, and what depends on them")
@argument("--parallel", type=_non_negative(int, "--parallel"), metavar="N",
          help="run up to N independent cells at once, in threads")
@argument("-p", "--parameter", action="append", default=[], metavar="key=value",
          help="set a variable before the cells run (after the cell tagged 'parameters')")
@argument("--notebook", metavar="PATH", help="the notebook file, when it cannot be found")
def flow_run_arguments(line: str) -> None:
    """Run the notebook's task cells in dependency order as one flow run."""


@dataclass(frozen=True)
class FlowRunOptions:
    name: str | None
    stale: bool
    parallel: int | None
    parameters: dict[str, Any]
    notebook: str | None


def parse_flow_run_line(line: str) -> FlowRunOptions:
    args = _parse(flow_run_arguments, line, "%flow run")
    if args.parallel == 0:
        raise NotebookUsageError("--parallel must be at least 1")
    return FlowRunOptions(args.name, args.stale, args.parallel,
                          dict(parse_parameter(text) for text in args.parameter), args.notebook)


def parse_parameter(text: str) -> tuple[str, Any]:
    """``"n=3"`` → ``("n", 3)``: the value is a Python literal when it reads as one (as
    papermill's ``-p``), else the text itself."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise NotebookUsageError(f"-p takes key=value with a variable name as key, got {text!r}")
    try:
        return key, ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return key, raw


def parse_count(text: str, default: int) -> int:
    """The ``N`` of ``%flow history [N]``."""
    if not text.strip():
        return default
    try:
        count = int(text)
    except ValueError:
        raise NotebookUsageError(f"expected a number of runs, got {text.strip()!r}") from None
    if count < 1:
        raise NotebookUsageError(f"the number of runs must be at least 1, got {count}")
    return count
