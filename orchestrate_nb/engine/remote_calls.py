"""Running a task's function call in another process or on another machine.

The task run's state machine stays in the flow's process; only the user's call travels,
cloudpickled (so functions defined in ``__main__`` or a notebook travel by value). On the
remote side the call runs under a minimal task run context, so ``get_run_logger()`` and
``log_prints`` work there; its log lines are captured (never printed there, never sent to a
store there) and travel back with the outcome. The flow's process replays them through the
run loggers, which print them and record them as ``LogEmitted`` events, like local lines.
"""

from __future__ import annotations

import contextvars
import logging
import os
import pickle
import socket
import threading
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, NamedTuple

import cloudpickle

from orchestrate_nb.core.states import Running
from orchestrate_nb.engine.calls import Outcome, call_sync, is_async_fn
from orchestrate_nb.engine.context import TaskRunContext, task_run_ctx
from orchestrate_nb.engine.driver import Call
from orchestrate_nb.engine.logging import (
    TASK_RUNS_LOGGER,
    configure_logging,
    run_logger,
    set_print_logger,
)
from orchestrate_nb.engine.records import TaskRun
from orchestrate_nb.errors import OrchestrateError, TaskRunTimeoutError


class RemoteTaskError(OrchestrateError):
    """A task's call, exception or return value could not travel between processes."""


class RemoteRun(NamedTuple):
    """What the remote side knows of a task run: enough for its loggers and run context."""

    task_run_id: str
    flow_run_id: str | None
    name: str
    task_name: str
    task_key: str
    tags: tuple[str, ...]
    map_index: int
    run_count: int
    log_prints: bool

    @classmethod
    def of(cls, task_run: TaskRun, log_prints: bool) -> RemoteRun:
        tr = task_run
        return cls(tr.id, tr.flow_run_id, tr.name, tr.task_name, tr.task_key, tr.tags,
                   tr.map_index, tr.run_count, log_prints)

    def task_run(self) -> TaskRun:
        record = TaskRun(self.task_run_id, self.name, self.task_name, self.task_key,
                         self.flow_run_id, self.tags, self.map_index, {}, Running())
        record.run_count = self.run_count
        return record


class RemoteTask(NamedTuple):
    """Stands in for the Task in a remote run context (the Task itself does not travel)."""

    name: str
    task_key: str
    fn: Callable[..., Any]
    isasync: bool


class CapturedLog(NamedTuple):
    level: int
    logger: str
    message: str  # formatted, with the exception's traceback appended if any
    created: float
    task_run_id: str | None
    flow_run_id: str | None
    run_label: str | None

    @classmethod
    def of(cls, record: logging.LogRecord) -> CapturedLog:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
        return cls(record.levelno, record.name, message, record.created,
                   getattr(record, "task_run_id", None), getattr(record, "flow_run_id", None),
                   getattr(record, "run_label", None))


class RemoteOutcome(NamedTuple):
    ok: bool
    value: Any  # the return value, or the exception (see portable_exception)
    logs: list[CapturedLog]


# -- the remote side ---------------------------------------------------------------------
_captured: ContextVar[list[CapturedLog] | None] = ContextVar(
    "orchestrate_nb_remote_logs", default=None)
_install_lock = threading.Lock()


class _KeepRemoteLogs(logging.Filter):
    """While a shipped call runs, its task run records are kept for the flow's process
    instead of being handled here (so a worker in the flow's own process, such as a Dask
    worker thread, never prints or records them twice)."""

    def filter(self, record: logging.LogRecord) -> bool:
        logs = _captured.get()
        if logs is None:
            return True
        logs.append(CapturedLog.of(record))
        return False


_KEEP_REMOTE_LOGS = _KeepRemoteLogs()


def _install_log_capture() -> None:
    logger = logging.getLogger(TASK_RUNS_LOGGER)
    if _KEEP_REMOTE_LOGS not in logger.filters:
        with _install_lock:
            logger.addFilter(_KEEP_REMOTE_LOGS)


def run_remotely(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 run: RemoteRun, timeout: float | None = None) -> RemoteOutcome:
    """Run a task's call here (in a worker); never raises. A ``timeout`` interrupts the
    call where Python code can be interrupted, to free the worker sooner."""
    return contextvars.copy_context().run(_run_in_context, fn, args, kwargs, run, timeout)


def _run_in_context(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                    run: RemoteRun, timeout: float | None) -> RemoteOutcome:
    configure_logging()  # installs the print wrapper that log_prints relies on
    _install_log_capture()
    logs: list[CapturedLog] = []
    _captured.set(logs)
    task_run = run.task_run()
    task = RemoteTask(run.task_name, run.task_key, fn, is_async_fn(fn))
    task_run_ctx.set(TaskRunContext(task, task_run, run.log_prints))
    if run.log_prints:
        set_print_logger(run_logger(task_run=task_run))
    ok, value = call_sync(fn, args, kwargs, timeout,
                          lambda: TaskRunTimeoutError(f"Task run {run.name!r} timed out"))
    if not ok:
        value = portable_exception(value)
    return RemoteOutcome(ok, value, logs)


def portable_exception(exc: BaseException) -> BaseException:
    """``exc`` with its traceback text as a note (traceback objects cannot travel); a
    RemoteTaskError carrying its type, message and traceback if it cannot be pickled."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    _add_note(exc, f"Remote traceback (process {os.getpid()} on {socket.gethostname()}):\n"
                   f"{text.rstrip()}")
    try:
        pickle.loads(cloudpickle.dumps(exc))
        return exc
    except Exception:
        portable = RemoteTaskError(f"{type(exc).__qualname__}: {exc} (the exception itself "
                                   "could not be sent back)")
        for note in getattr(exc, "__notes__", ()):
            _add_note(portable, note)
        return portable


def _add_note(exc: BaseException, note: str) -> None:
    notes = getattr(exc, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
    notes.append(note)
    # what BaseException.add_note does (3.11+); the notes are pickled with the exception
    setattr(exc, "__notes__", notes)  # noqa: B010 - no such attribute on 3.10's stubs


# How a pickle names the module "__main__" (protocol 4+: a short string before
# STACK_GLOBAL): what it refers to there would not exist in a worker.
_MAIN_MODULE_REF = b"\x8c\x08__main__"


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` for another process: the C pickler when it gives a self-contained
    result (a hundredth of cloudpickle's cost for plain data), else cloudpickle, which
    sends what lives in ``__main__`` (a notebook, a script) or nowhere (closures) by value.
    """
    if not cloudpickle.list_registry_pickle_by_value():
        try:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - e.g. a lambda or a local class: cloudpickle's
            pass
        else:
            if _MAIN_MODULE_REF not in data:
                return data
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


class CallPickler:
    """Pickles calls for workers. Each function is pickled once per runner, i.e. per flow
    run (like Dask's own function cache): a mapped task ships its function by value once,
    then only its arguments. Workers keep recently loaded functions too."""

    def __init__(self) -> None:
        self._functions: dict[int, tuple[Callable[..., Any], bytes]] = {}

    def dumps(self, call: Call, run: RemoteRun, remote_timeout: float | None) -> bytes:
        """The call as bytes for a worker; RemoteTaskError if it cannot be pickled."""
        what = "function"
        try:
            fn = self._function(call.fn)
            what = "arguments"
            rest = dumps((call.args, call.kwargs, run, remote_timeout))
        except Exception as exc:
            raise RemoteTaskError(f"task run {run.name!r}: its {what} cannot be sent to "
                                  f"another process: {type(exc).__name__}: {exc}") from exc
        return pickle.dumps((fn, rest), pickle.HIGHEST_PROTOCOL)

    def _function(self, fn: Callable[..., Any]) -> bytes:
        cached = self._functions.get(id(fn))
        if cached is None or cached[0] is not fn:
            cached = self._functions[id(fn)] = (fn, cloudpickle.dumps(fn))
        return cached[1]


_loaded_functions: dict[bytes, Callable[..., Any]] = {}
_LOADED_FUNCTIONS_MAX = 256


def _load_function(pickled: bytes) -> Callable[..., Any]:
    fn = _loaded_functions.get(pickled)
    if fn is None:
        fn = cloudpickle.loads(pickled)
        if len(_loaded_functions) >= _LOADED_FUNCTIONS_MAX:
            _loaded_functions.clear()
        _loaded_functions[pickled] = fn
    return fn


def run_pickled_call(payload: bytes) -> RemoteOutcome:
    """Worker entry point: run a call pickled by CallPickler; never raises."""
    try:
        pickled_fn, rest = pickle.loads(payload)
        fn = _load_function(pickled_fn)
        args, kwargs, run, timeout = pickle.loads(rest)
    except BaseException as exc:  # noqa: BLE001 - reported to the flow's process
        error = RemoteTaskError(f"the task's function or arguments could not be loaded in "
                                f"the worker: {type(exc).__name__}: {exc}")
        return RemoteOutcome(False, portable_exception(error), [])
    return run_remotely(fn, args, kwargs, run, timeout)


def run_pickled(payload: bytes) -> bytes:
    """Worker entry point over a byte channel: the outcome of ``run_pickled_call``, pickled."""
    outcome = run_pickled_call(payload)
    try:
        return dumps(outcome)
    except Exception as exc:
        error = RemoteTaskError(f"the task's return value could not be sent back: "
                                f"{type(exc).__name__}: {exc}")
        return cloudpickle.dumps(RemoteOutcome(False, error, outcome.logs))


def loads_outcome(reply: bytes) -> RemoteOutcome:
    try:
        outcome: RemoteOutcome = pickle.loads(reply)
    except Exception as exc:
        error = RemoteTaskError(f"the task's outcome could not be loaded in the flow's "
                                f"process: {type(exc).__name__}: {exc}")
        return RemoteOutcome(False, error, [])
    return outcome


# -- the flow's side ---------------------------------------------------------------------
def outcome_in_parent(remote: RemoteOutcome, call: Call) -> Outcome:
    """Replay the remote log lines here and return the call's outcome for the engine."""
    replay_logs(remote.logs)
    if not remote.ok and isinstance(remote.value, TaskRunTimeoutError):
        return False, call.timeout_exc()
    return remote.ok, remote.value


def replay_logs(logs: list[CapturedLog]) -> None:
    """Log captured lines here with their original level and time: they are printed and
    recorded (LogEmitted) by the run loggers' handlers like lines logged locally."""
    for log in logs:
        logger = logging.getLogger(log.logger)
        if not logger.isEnabledFor(log.level):
            continue
        extra = {"task_run_id": log.task_run_id, "flow_run_id": log.flow_run_id,
                 "run_label": log.run_label}
        record = logger.makeRecord(log.logger, log.level, "(remote)", 0, log.message, (),
                                   None, extra=extra)
        record.created = log.created
        record.msecs = (log.created - int(log.created)) * 1000
        logger.handle(record)
