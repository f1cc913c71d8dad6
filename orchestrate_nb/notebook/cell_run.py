"""One execution of a task cell, as a task run of the engine.

:meth:`CellRun.task` builds the engine's ``Task``: its function executes the cell in the
user namespace, its ``cache_key_fn`` is the cell's key (normalised code + the fingerprints
of its inputs, computed when the run starts, after upstream cells finished, then the
files its last run opened as they are now: see ``cell_files``), its result storage files
the result under the files the run opened. So a hit is the engine's ``Cached`` state,
recorded in the run store with its key. The completion and failure hooks put a cached
result back into the namespace and update what the kernel remembers (see ``state.py``).

Mutations: after a run, the inputs the cell may have mutated (``CellAnalysis.mutated``
and ``escaped``: method calls, item or attribute assignment, passed to a call, aliased,
iterated) are fingerprinted again; those that changed are stored as outputs, so a hit
restores the mutated value. A mutation through a path the analysis cannot see (a function
changing a global the cell does not name) is not detected.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
import types
from dataclasses import dataclass
from typing import Any

from orchestrate_nb.core.events import LogEmitted
from orchestrate_nb.core.states import State
from orchestrate_nb.core.tasks import Task
from orchestrate_nb.engine.context import task_run_ctx
from orchestrate_nb.engine.reporting import get_reporter
from orchestrate_nb.notebook import explain
from orchestrate_nb.notebook.analysis import CellAnalysis
from orchestrate_nb.notebook.capture import recording, show_pending_figures
from orchestrate_nb.notebook.cell_files import CellFiles
from orchestrate_nb.notebook.cell_result import CellResult
from orchestrate_nb.notebook.compiled import CompiledCell
from orchestrate_nb.notebook.fingerprints import (
    cache_key,
    current_fingerprint,
    fingerprint_input,
    in_notebook,
    referenced_globals,
    unpicklable_reason,
)
from orchestrate_nb.notebook.state import CellRecord, KernelState, LastRun
from orchestrate_nb.notebook.tracebacks import CELL_TASK_MARK
from orchestrate_nb.results.fingerprint import FingerprintError, fingerprint_parts

UNHASHABLE = "unhashable"
TASK_KEY_PREFIX = "notebook-cell."
PRINT_LOGGER = "orchestrate_nb.cell_output"
MAX_LOGGED_CHARS = 100_000


@dataclass(frozen=True)
class RunOptions:
    """A cell's options with the configured defaults filled in."""

    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    tags: tuple[str, ...] = ()
    cache: bool = True
    refresh: bool = False
    cache_expiration: float | None = None
    files: tuple[str, ...] = ()  # --files patterns


@dataclass(frozen=True)
class CellSpec:
    name: str
    identity: str  # what the last-run index knows the cell by (its name, or its cell id)
    analysis: CellAnalysis  # --inputs/--outputs applied
    inputs_given: bool  # --inputs: use exactly those names
    compiled: CompiledCell
    options: RunOptions
    notebook: str | None = None  # the notebook's identity (see KernelState)
    magic_line: str = ""
    body: str = ""


def task_key_of(name: str, notebook: str | None = None) -> str:
    """The task key of a cell: per notebook (the same name in two notebooks is two tasks)."""
    if notebook is None:
        return TASK_KEY_PREFIX + name
    return f"{TASK_KEY_PREFIX}{fingerprint_parts('notebook', notebook)[:12]}.{name}"


class CellRun:
    """A cell's execution: the task, its key, its function and its hooks."""

    def __init__(self, spec: CellSpec, kernel: KernelState, announce: bool = False) -> None:
        self.spec = spec
        self.kernel = kernel
        self.announce = announce  # print a one-line summary when it ends (%flow run)
        self.task_run_id: str | None = None
        self.unhashable: str | None = None  # why an input has no fingerprint
        self.badge: str | None = None
        self._inputs: dict[str, str] | None = None
        self._after: dict[str, str] = {}  # fingerprints of inputs after the run
        self.files = CellFiles(spec.options.files, spec.analysis.path_literals,
                               task_key_of(spec.name, spec.notebook))

    # -- inputs and key --------------------------------------------------------------
    def input_names(self) -> list[str]:
        analysis, namespace, hidden = self.spec.analysis, self.kernel.namespace, self.kernel.hidden
        if self.spec.inputs_given:
            return list(analysis.inputs)
        names = [n for n in analysis.inputs if n not in hidden]
        names += [n for n in analysis.builtins_read if n in namespace and n not in hidden]
        indirect = referenced_globals([namespace[n] for n in names if n in namespace],
                                      namespace, hidden)
        return names + [n for n in indirect if n not in names]

    def input_fingerprints(self) -> dict[str, str]:
        """Computed once, when the run starts (inputs by name, ABSENT if unbound)."""
        if self._inputs is None:
            namespace, known = self.kernel.namespace, self.kernel.known
            known.prune(namespace)
            fingerprints = {}
            for name in self.input_names():
                try:
                    fingerprints[name] = current_fingerprint(name, namespace, known)
                except Exception as exc:  # noqa: BLE001 - caching never fails the cell
                    fingerprints[name] = UNHASHABLE
                    self.unhashable = self.unhashable or unpicklable_reason(name, _problem(exc))
            self._inputs = fingerprints
        return self._inputs

    def cache_key(self, task_ctx: Any = None, parameters: Any = None) -> str | None:
        inputs = self.input_fingerprints()
        if self.unhashable:
            return None
        spec = self.spec
        extra: tuple[str, ...] = (f"notebook={spec.notebook}",) if spec.notebook else ()
        extra += tuple(f"files={pattern}" for pattern in spec.options.files)
        return self.files.key(cache_key(spec.analysis.code_hash, spec.analysis.outputs,
                                        inputs, extra))

    # -- the task ----------------------------------------------------------------------
    def task(self) -> Task[Any, Any]:
        options = self.spec.options
        caching = options.cache
        task: Task[Any, Any] = Task(
            self.execute, name=self.spec.name, retries=options.retries,
            retry_delay_seconds=options.retry_delay, timeout_seconds=options.timeout,
            tags=options.tags, cache_key_fn=self.cache_key if caching else None,
            persist_result=caching, refresh_cache=options.refresh or None,
            cache_expiration=(dt.timedelta(seconds=options.cache_expiration)
                              if options.cache_expiration else None),
            result_storage=self.files.storage() if caching else None,
            on_completion=[self.completed], on_failure=[self.failed])
        task.task_key = task_key_of(self.spec.name, self.spec.notebook)
        setattr(task, CELL_TASK_MARK, True)
        return task

    def execute(self, **_upstream: Any) -> CellResult:
        """The task's function: run the cell in the user namespace, recording its output.
        (``%flow run`` passes upstream futures as keyword arguments: only for edges.)"""
        before = self.input_fingerprints()
        with recording() as record, self.files.recording() as access:
            started = time.perf_counter()
            try:
                has_value, value = self.spec.compiled.run(self.kernel.namespace)
                show_pending_figures()
            finally:
                keep_printed_output(record.events)
            duration = time.perf_counter() - started
        result = self._result(record.events, has_value, value, duration, before)
        seen = self.files.seen(access)
        result.files, result.read, result.written = seen.files, seen.read, seen.written
        result.skipped = seen.skipped
        result.not_cached = result.not_cached or seen.problem
        return result

    def _result(self, events: list[Any], has_value: bool, value: Any, duration: float,
                before: dict[str, str]) -> CellResult:
        namespace, analysis = self.kernel.namespace, self.spec.analysis
        outputs = {n: namespace[n] for n in analysis.outputs
                   if n in namespace and not _closed_file(namespace[n])}
        mutated = self._mutated(before, outputs)
        outputs.update((n, namespace[n]) for n in mutated)
        fingerprints, problem = _fingerprints(outputs)
        result = CellResult(outputs, fingerprints, events, duration, has_value, value,
                            analysis.deleted, tuple(mutated))
        result.not_cached = problem
        return result

    def _mutated(self, before: dict[str, str], outputs: dict[str, Any]) -> list[str]:
        analysis, namespace = self.spec.analysis, self.kernel.namespace
        mutated = []
        for name in dict.fromkeys((*analysis.mutated, *analysis.escaped)):
            value = namespace.get(name)
            if name in outputs or name not in before or before[name] == UNHASHABLE \
                    or name not in namespace or _immutable_kind(value):
                continue
            try:
                self._after[name] = after = fingerprint_input(value)
            except Exception:  # noqa: BLE001 - no fingerprint now: cannot tell, assume not
                continue
            if after != before[name]:
                mutated.append(name)
        return mutated

    # -- hooks (the engine calls them when the run ends) ----------------------------
    def completed(self, task: Any, task_run: Any, state: State) -> None:
        result: CellResult = state.data
        cached = state.name == "Cached"
        if cached:
            restore(result, self.kernel.namespace)
        self._remember_values(result)
        not_cached = self.unhashable or result.not_cached
        why = "cached" if cached else self._why()
        self.badge = explain.cached_text(result.duration) if cached else \
            explain.ran_text(why, result.duration, not_cached)
        inputs = self._inputs or {}
        after = {**inputs, **self._after,
                 **{n: fp for n, fp in result.fingerprints.items() if n in inputs}}
        kind = "cached" if cached else "not cached" if not_cached else "completed"
        self._save(task_run, kind, result.duration, why, result.fingerprints, after, result)
        if not cached and not self.unhashable and self.spec.options.cache:
            self.kernel.remember_last_run(self.spec.identity, LastRun(
                self.spec.analysis.code_hash, inputs, result.files, result.read,
                result.written), self.spec.notebook)
        self._announce()

    def failed(self, task: Any, task_run: Any, state: State) -> None:
        analysis = self.spec.analysis
        self.kernel.known.forget((*analysis.outputs, *analysis.mutated, *analysis.escaped))
        error = state.data
        if state.name == "NotReady":
            why, kind = "not run: an upstream cell failed", "not run"
        elif isinstance(error, BaseException):
            why, kind = f"failed: {type(error).__name__}: {_first_line(error)}", "failed"
        else:
            why, kind = f"failed: {state.message or state.name}", "failed"
        self.badge = f"✗ {why}"
        duration = _seconds(task_run.start_time, task_run.end_time)
        self._save(task_run, kind, duration, why, {}, {})
        self._announce()

    def _why(self) -> str:
        options = self.spec.options
        if not options.cache:
            return "ran: --no-cache"
        if options.refresh:
            return "re-ran: --refresh"
        if self.unhashable:
            return "ran"
        previous = self.kernel.last_run(self.spec.identity, self.spec.name, self.spec.notebook)
        why = explain.why_it_ran(previous, self.spec.analysis.code_hash, self._inputs or {},
                                 self.files.before)
        record = self.kernel.records.get(self.spec.name)
        if why == explain.NO_ENTRY and record is not None and record.state == "not cached":
            return "ran"  # its result could not be stored last time either
        return why

    def _remember_values(self, result: CellResult) -> None:
        known, namespace = self.kernel.known, self.kernel.namespace
        for name, digest in result.fingerprints.items():
            if name in namespace:
                known.remember(name, namespace[name], digest)
        for name, digest in self._after.items():
            if name not in result.fingerprints and name in namespace:
                known.remember(name, namespace[name], digest)

    def _save(self, task_run: Any, state: str, duration: float | None, why: str,
              outputs: dict[str, str], inputs_after: dict[str, str],
              result: CellResult | None = None) -> None:
        self.task_run_id = task_run.id
        spec = self.spec
        record = CellRecord(spec.name, spec.analysis, spec.analysis.code_hash,
                            dict(self._inputs or {}), outputs, state, duration, why,
                            dt.datetime.now(dt.timezone.utc), task_run.id, inputs_after,
                            identity=spec.identity, magic_line=spec.magic_line,
                            body=spec.body)
        if result is not None:
            record.files, record.read, record.written = result.files, result.read, \
                result.written
            record.skipped = result.skipped
        self.kernel.save_record(record, task_run.flow_run_id)

    def _announce(self) -> None:
        if self.announce and self.badge:
            print(f"{self.spec.name}: {self.badge}", flush=True)


def keep_printed_output(events: list[Any]) -> None:
    """Send what the cell printed to the run store, as log lines of its task run (stderr
    is left out: run-logger lines written there reach the store on their own)."""
    ctx = task_run_ctx.get()
    if ctx is None:
        return
    run, reporter = ctx.task_run, get_reporter()
    for event in events:
        if event[0] == "stdout" and event[1].strip():
            reporter.emit(LogEmitted(run.flow_run_id, run.id, logging.INFO, PRINT_LOGGER,
                                     event[1].rstrip("\n")[:MAX_LOGGED_CHARS],
                                     dt.datetime.now(dt.timezone.utc)))


def restore(result: CellResult, namespace: dict[str, Any]) -> None:
    """Put a cached result's variables back (functions and classes defined in the notebook
    see the namespace's globals again, not the snapshot pickling took)."""
    for name, value in result.outputs.items():
        namespace[name] = rebind_globals(value, namespace)
    for name in result.deleted:
        if name not in result.outputs:
            namespace.pop(name, None)


def rebind_globals(value: Any, namespace: dict[str, Any]) -> Any:
    if isinstance(value, types.FunctionType) and in_notebook(value) \
            and value.__globals__ is not namespace:
        rebound = types.FunctionType(value.__code__, namespace, value.__name__,
                                     value.__defaults__, value.__closure__)
        rebound.__dict__.update(value.__dict__)
        rebound.__kwdefaults__ = value.__kwdefaults__
        rebound.__qualname__ = value.__qualname__
        rebound.__annotations__ = value.__annotations__
        rebound.__module__ = value.__module__
        rebound.__doc__ = value.__doc__
        return rebound
    if isinstance(value, type) and in_notebook(value):
        for attribute, member in list(vars(value).items()):
            if isinstance(member, types.FunctionType):
                setattr(value, attribute, rebind_globals(member, namespace))
    return value


def _fingerprints(outputs: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    fingerprints: dict[str, str] = {}
    problem = None
    for name, value in outputs.items():
        try:
            fingerprints[name] = fingerprint_input(value)
        except Exception as exc:  # noqa: BLE001 - the cell ran; only caching is off
            problem = problem or unpicklable_reason(name, _problem(exc))
    return fingerprints, problem


def _problem(exc: Exception) -> str:
    if isinstance(exc, FingerprintError):
        return exc.problem
    return f"can't be fingerprinted ({type(exc).__name__}: {_first_line(exc)})"


def _closed_file(value: Any) -> bool:
    """``with open(path) as f``: ``f`` is an output, but a closed file has nothing to keep
    (and could never be pickled, which would leave the cell uncached)."""
    return isinstance(value, io.IOBase) and value.closed


def _immutable_kind(value: Any) -> bool:
    return isinstance(value, (types.ModuleType, types.FunctionType, type, int, float, str,
                              bytes, bool, type(None)))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:80] if lines else ""


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return (end - start).total_seconds() if start is not None and end is not None else None
