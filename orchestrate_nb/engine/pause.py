"""``pause_flow_run``: the flow run waits, Paused, until it is resumed, cancelled or timed out.

Another process changes a paused run's state (``orchestrate-nb runs resume ID`` or
``runs cancel ID``), so while it is paused the run's state lives in the run store, reached
through a ``PauseControl`` made by the ``pause_control`` port (``engine/ports.py``; the
engine never imports the store):

1. the reporter is flushed, so the run and its states are in the store; then the run goes
   RUNNING → PAUSED by a conditional write that also stores the JSON schema of the input it
   waits for and when it times out (a cancel requested just before wins);
2. the run's process polls the store every ``poll_interval`` seconds:
   - RUNNING ("Resumed", written by ``runs resume`` with the checked input): the input is
     validated with the model; accepted, ``pause_flow_run`` returns it; refused, the run
     goes back to PAUSED, the reason is logged, and the wait goes on;
   - CANCELLING (``runs cancel``): ``CancelledRun`` is raised and the flow ends Cancelled
     (a worker kills its run's process first);
   - still PAUSED at the timeout: the process itself writes PAUSED → RUNNING, so a resume
     arriving now is refused instead of lost, and raises ``FlowPauseTimeout``.

States written here go to the store directly; the reporter's subscribers (the run graph)
are told too. The wait is a machine for the engines' driver (``engine/driver.py``): in an
async flow, ``await pause_flow_run()`` keeps the event loop running.

``key``: a pause that was resumed is not repeated in the same flow run (e.g. when the flow
retries): it returns the input it was resumed with. Without a key, the n-th pause of an
attempt is the key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from functools import partial
from typing import Any, NamedTuple, Protocol

from orchestrate_nb.core.events import StateChanged
from orchestrate_nb.core.run_input import resume_command
from orchestrate_nb.core.states import Cancelling, Paused, Running, State, StateType
from orchestrate_nb.engine import ports
from orchestrate_nb.engine.context import FlowRunContext, flow_run_ctx, task_run_ctx
from orchestrate_nb.engine.driver import Blocking, Machine, Sleep, drive_async, drive_sync
from orchestrate_nb.engine.logging import run_logger
from orchestrate_nb.engine.records import FlowRun
from orchestrate_nb.engine.reporting import get_reporter, notify_subscribers
from orchestrate_nb.errors import CancelledRun, FlowPauseTimeout, PauseError

DEFAULT_POLL_SECONDS = 1.0
UTC = dt.timezone.utc


class PauseStatus(Protocol):
    """A paused run's state as the store has it (``state_type`` None: not in the store)."""

    @property
    def state_type(self) -> str | None: ...
    @property
    def state_name(self) -> str | None: ...
    @property
    def state_message(self) -> str | None: ...
    @property
    def resume_input(self) -> dict[str, Any] | None: ...


class PauseControl(Protocol):
    """The store's side of a pause (``store/pauses.py``); each call is one transaction."""

    def pause(self, run_id: str, message: str, input_schema: dict[str, Any] | None,
              expires: dt.datetime) -> PauseStatus: ...
    def status(self, run_id: str) -> PauseStatus: ...
    def time_out(self, run_id: str, message: str) -> bool: ...
    def refuse_input(self, run_id: str, message: str) -> bool: ...
    def close(self) -> None: ...


def pause_flow_run(wait_for_input: type[Any] | None = None, timeout: float = 3600,
                   poll_interval: float = DEFAULT_POLL_SECONDS, key: str | None = None) -> Any:
    """Pause the current flow run until ``orchestrate-nb runs resume ID`` resumes it.

    Returns None, or with ``wait_for_input=Model`` (a pydantic model class, or a type such
    as ``int`` given as ``-p value=...``) the validated input. Raises ``FlowPauseTimeout``
    after ``timeout`` seconds, and ``CancelledRun`` when the run is cancelled while paused
    (the flow then ends Cancelled). In an async flow, ``await`` it.
    """
    ctx = _flow_run_context()
    _check_seconds(timeout=timeout, poll_interval=poll_interval)
    expected = _expected_input(wait_for_input)
    _require_store()
    run = ctx.flow_run
    key = _keys.key_for(run, key)
    resumed, value = _keys.resumed(run.id, key)
    if resumed:
        run_logger(flow_run=run).info("Pause %r was resumed before in this flow run; "
                                      "not pausing again", key)
        return _returned(ctx, value)
    machine = _Pause(run, expected, float(timeout), float(poll_interval), key).machine()
    return drive_async(machine) if _in_async_flow(ctx) else drive_sync(machine)


# -- checks before pausing -------------------------------------------------------------------
def _flow_run_context() -> FlowRunContext:
    flow_ctx, task_ctx = flow_run_ctx.get(), task_run_ctx.get()
    if task_ctx is not None and (flow_ctx is None
                                 or task_ctx.task_run.flow_run_id == flow_ctx.flow_run.id):
        raise PauseError(f"pause_flow_run() was called in task run {task_ctx.task_run.name!r}:"
                         " only a flow can pause; call it in the flow's own body")
    if flow_ctx is None:
        raise PauseError("pause_flow_run() was called outside a flow run; call it inside "
                         "a @flow function")
    return flow_ctx


def _check_seconds(**values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise PauseError(f"pause_flow_run({name}=...) must be a positive number of "
                             f"seconds, got {value!r}")


class _ExpectedInput(NamedTuple):
    model: Any  # the pydantic model that validates the input
    schema: dict[str, Any]  # its JSON schema, stored with the run for the CLI
    unwrap: bool  # a plain type's model: its ``value`` field is what is returned


def _expected_input(wait_for_input: Any) -> _ExpectedInput | None:
    if wait_for_input is None:
        return None
    import pydantic

    model, unwrap = wait_for_input, False
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        try:  # a plain type (``int``, ``list[str]``): the input is one field, ``value``
            model = pydantic.create_model(f"{_type_name(model)}Input", value=(model, ...))
        except Exception as exc:
            raise PauseError(f"wait_for_input must be a pydantic model class or a type, "
                             f"got {model!r}: {exc}") from None
        unwrap = True
    try:
        return _ExpectedInput(model, model.model_json_schema(), unwrap)
    except Exception as exc:
        raise PauseError(f"wait_for_input={_type_name(model)} cannot be described as JSON "
                         f"(the CLI checks input against it): {exc}") from None


def _type_name(kind: Any) -> str:
    return str(getattr(kind, "__name__", kind))


def _require_store() -> None:
    from orchestrate_nb.settings import STORE_ENABLED_ENV, load_settings

    if not load_settings().store_enabled:
        raise PauseError(f"pausing a flow run needs the run store, which {STORE_ENABLED_ENV}=0 "
                         "turns off: the run is resumed through it")


def _in_async_flow(ctx: FlowRunContext) -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return bool(getattr(ctx.flow, "isasync", False))


def _returned(ctx: FlowRunContext, value: Any) -> Any:
    if not _in_async_flow(ctx):
        return value

    async def already() -> Any:
        return value

    return already()


def _load_control() -> PauseControl:
    from orchestrate_nb.settings import load_settings

    control: PauseControl = ports.load("pause_control")(load_settings())
    return control


# -- the wait --------------------------------------------------------------------------------
class _Pause:
    def __init__(self, flow_run: FlowRun, expected: _ExpectedInput | None, timeout: float,
                 poll_interval: float, key: str) -> None:
        self.flow_run = flow_run
        self.expected = expected
        self.schema = expected.schema if expected is not None else None
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.key = key
        self.log = run_logger(flow_run=flow_run)
        self.hint = resume_command(flow_run.id, self.schema)
        self._poll_error_logged = False

    def machine(self) -> Machine:
        control: PauseControl = yield Blocking(_flush_and_open_control)
        try:
            yield from self._enter_pause(control)
            return (yield from self._wait(control))
        finally:
            control.close()

    def _enter_pause(self, control: PauseControl) -> Machine:
        run = self.flow_run
        expires = dt.datetime.now(UTC) + dt.timedelta(seconds=self.timeout)
        waits_for = " for input" if self.schema is not None else ""
        message = f"waiting{waits_for}; resume with: {self.hint}"
        status = yield Blocking(partial(control.pause, run.id, message, self.schema, expires))
        self._raise_unless_paused(status)
        self._enter(Paused(message=message))
        self.log.info("Paused%s. Resume with: %s (times out after %g s)", waits_for, self.hint,
                      self.timeout)

    def _wait(self, control: PauseControl) -> Machine:
        run = self.flow_run
        deadline = time.monotonic() + self.timeout
        while True:
            status = yield Blocking(partial(self._poll, control))
            if status is not None and status.state_type == StateType.RUNNING.value:
                accepted, value = self._accept(status)
                if accepted:
                    return value
                message = f"input refused ({value}); resume with: {self.hint}"
                yield Blocking(partial(control.refuse_input, run.id, message))
                continue
            if status is not None:
                self._raise_unless_paused(status)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                message = f"not resumed within {self.timeout:g} s"
                if (yield Blocking(partial(control.time_out, run.id, message))):
                    self._enter(Running(message=message))
                    raise FlowPauseTimeout(f"flow run {run.name!r} was paused and {message}")
                continue  # resumed or cancelled just now: the next poll says which
            yield Sleep(min(self.poll_interval, remaining))

    def _poll(self, control: PauseControl) -> PauseStatus | None:
        """The run's state; None when the store cannot be read now (the wait goes on)."""
        try:
            return control.status(self.flow_run.id)
        except Exception as exc:
            if not self._poll_error_logged:
                self._poll_error_logged = True
                self.log.warning("Cannot read the run store while paused (retrying): %s", exc)
            return None

    def _accept(self, status: PauseStatus) -> tuple[bool, Any]:
        """(True, the input) when the model accepts the input resumed with; else (False,
        why not): the run stays paused."""
        value = None
        if self.expected is not None:
            try:
                value = self.expected.model.model_validate(status.resume_input or {})
            except Exception as exc:
                reason = _validation_summary(exc)
                self.log.warning("Input refused, so the run stays paused: %s. Resume with: %s",
                                 reason, self.hint)
                return False, reason
            if self.expected.unwrap:
                value = value.value
        self._enter(State(StateType.RUNNING, "Resumed", status.state_message))
        self.log.info("Resumed")
        _keys.remember(self.flow_run.id, self.key, value)
        return True, value

    def _raise_unless_paused(self, status: PauseStatus) -> None:
        run, state = self.flow_run, status.state_type
        if state == StateType.PAUSED.value:
            return
        if state in (StateType.CANCELLING.value, StateType.CANCELLED.value):
            self._enter(Cancelling(message="cancelled while paused"))
            raise CancelledRun(f"flow run {run.name!r} was cancelled while paused")
        if state is None:
            raise PauseError(f"flow run {run.name!r} is not in the run store, so it cannot "
                             "be paused (see the store's errors logged above)")
        raise PauseError(f"flow run {run.name!r} cannot wait paused: the run store has it "
                         f"{status.state_name}")

    def _enter(self, state: State) -> None:
        """The store has the state already: only this process's watchers are told."""
        run = self.flow_run
        run.state = state
        notify_subscribers(StateChanged("flow", run.id, run.id, state.type.value, state.name,
                                        state.message, state.timestamp))


def _flush_and_open_control() -> PauseControl:
    get_reporter().flush()  # the run and every state it entered are in the store
    return _load_control()


def _validation_summary(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            found = errors()
            first = found[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "input"
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            return f"{where}: {first.get('msg')}{more}"
        except Exception:
            pass
    return f"{type(exc).__name__}: {exc}"


class _PauseKeys:
    """The pauses already resumed in each flow run of this process, by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resumed: dict[str, dict[str, Any]] = {}
        self._counts: dict[str, tuple[int, int]] = {}  # run id -> (attempt, pauses in it)

    def key_for(self, flow_run: FlowRun, key: str | None) -> str:
        if key is not None:
            return key
        with self._lock:
            attempt, count = self._counts.get(flow_run.id, (flow_run.run_count, 0))
            count = count + 1 if attempt == flow_run.run_count else 1
            self._counts[flow_run.id] = (flow_run.run_count, count)
        return f"pause-{count}"

    def resumed(self, run_id: str, key: str) -> tuple[bool, Any]:
        with self._lock:
            keys = self._resumed.get(run_id, {})
            return (key in keys), keys.get(key)

    def remember(self, run_id: str, key: str, value: Any) -> None:
        with self._lock:
            self._resumed.setdefault(run_id, {})[key] = value


_keys = _PauseKeys()
