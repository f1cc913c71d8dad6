"""The flow run state machine: Pending → Running → (AwaitingRetry → Retrying)* → final.

A flow run waits for every task run it submitted before it ends (no work is dropped), and
its final state reflects the failures it did not handle: a submitted run that failed and
whose outcome the flow never looked at (``result()``/``state``) fails the flow.
"""

from __future__ import annotations

import logging
from types import GeneratorType
from typing import TYPE_CHECKING, Any

from orchestrate_nb.core.events import FlowRunCreated, StateChanged
from orchestrate_nb.core.ids import time_ordered_id
from orchestrate_nb.core.states import (
    AwaitingRetry,
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Pending,
    Retrying,
    Running,
    State,
    StateType,
    TimedOut,
)
from orchestrate_nb.core.tasks import UNBOUND
from orchestrate_nb.engine.context import (
    FlowRunContext,
    adopted_flow_run_ctx,
    flow_run_ctx,
    tags_ctx,
    task_run_ctx,
)
from orchestrate_nb.engine.driver import Call, Machine, Sleep, Wait, drive_async, drive_sync
from orchestrate_nb.engine.futures import TaskRunFuture
from orchestrate_nb.engine.jsonable import jsonable_parameters
from orchestrate_nb.engine.logging import (
    configure_logging,
    reset_print_logger,
    run_logger,
    set_print_logger,
)
from orchestrate_nb.engine.names import generate_flow_run_name, render_run_name
from orchestrate_nb.engine.records import FlowRun, enter_state
from orchestrate_nb.engine.reporting import get_reporter
from orchestrate_nb.engine.watchers import watch_flow_run
from orchestrate_nb.errors import FlowRunTimeoutError

if TYPE_CHECKING:
    from orchestrate_nb.core.flows import Flow


class FlowRunEngine:
    def __init__(self, flow: Flow[Any, Any], parameters: dict[str, Any],
                 parent: FlowRunContext | None) -> None:
        self.flow = flow
        self.parameters = parameters
        self.parent = parent
        self.reporter = get_reporter()
        tags = flow.tags | tags_ctx.get()
        tag_tuple = tuple(sorted(tags)) if tags else ()
        state = Pending()
        parent_id = parent.flow_run.id if parent is not None else None
        adopted = adopted_flow_run_ctx.get() if parent is None else None
        self.flow_run = FlowRun(adopted or time_ordered_id(), "", flow.name, parameters,
                                tag_tuple, parent_id, state)
        name = self.flow_run.name = (generate_flow_run_name() if flow.flow_run_name is None
                                     else self._run_name())
        parent_task = task_run_ctx.get()
        self.flow_run.parent_task_run_id = parent_task.task_run.id if parent_task else None
        if parent is not None:
            self.flow_run.root_flow_run_id = parent.flow_run.root_flow_run_id or parent_id
        log_prints = flow.log_prints
        if log_prints is None:
            log_prints = parent.log_prints if parent is not None else False
        self.log_prints = log_prints
        fr = self.flow_run
        if adopted is not None:  # the run exists: its state changes become updates
            adopted_flow_run_ctx.set(None)  # adopted once: a second flow gets its own run
            return
        recorded = parameters
        if flow._bound is not UNBOUND:  # a method's instance is not a parameter
            recorded = {k: v for k, v in parameters.items() if k != flow.bound_parameter}
        self.reporter.emit(FlowRunCreated(
            fr.id, flow.name, name, jsonable_parameters(recorded), tag_tuple, parent_id,
            fr.parent_task_run_id, state.timestamp, "PENDING", state.name))

    def _run_name(self) -> str:
        flow = self.flow
        if flow.flow_run_name is None:
            return generate_flow_run_name()
        if not callable(flow.flow_run_name):
            return render_run_name(flow.flow_run_name, self.parameters, "flow_run_name")
        # a callable may read orchestrate_nb.runtime.flow_run (Prefect's idiom)
        token = flow_run_ctx.set(FlowRunContext(flow, self.flow_run, None,  # type: ignore[arg-type]
                                                self.reporter, False))
        try:
            return render_run_name(flow.flow_run_name, self.parameters, "flow_run_name")
        finally:
            flow_run_ctx.reset(token)

    def set_state(self, state: State) -> None:
        fr = self.flow_run
        enter_state(fr, state)
        self.reporter.emit(StateChanged("flow", fr.id, fr.id, state.type.value, state.name,
                                        state.message, state.timestamp))

    def logger(self) -> logging.LoggerAdapter[Any]:
        return run_logger(flow_run=self.flow_run)

    def machine(self) -> Machine:
        flow = self.flow
        self.logger().info("Beginning flow run %r for flow %r", self.flow_run.name, flow.name)
        from orchestrate_nb.core.options import call_args

        args, kwargs = call_args(flow.signature, self.parameters)
        attempt = 0
        while True:
            self.set_state(Running() if attempt == 0 else Retrying())
            self._run_hooks(flow.on_running_hooks, self.flow_run.state)
            outcome, ctx = yield from self._attempt(args, kwargs)
            state = self._final_state(outcome, ctx)
            if state.type is not StateType.FAILED or attempt >= flow.retries:
                return self._finish(state, outcome)
            attempt += 1
            self.logger().warning("Flow run failed (%s) - Retry %d/%d will start %s",
                                  state.message, attempt, flow.retries,
                                  f"{flow.retry_delay_seconds:g} second(s) from now"
                                  if flow.retry_delay_seconds else "immediately")
            self.set_state(AwaitingRetry(message=f"Retry {attempt}/{flow.retries}"))
            yield Sleep(flow.retry_delay_seconds)

    def _attempt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Machine:
        flow = self.flow
        runner = flow.task_runner.duplicate()
        runner.start()
        ctx = FlowRunContext(flow, self.flow_run, runner, self.reporter, self.log_prints)
        token = flow_run_ctx.set(ctx)
        print_token = set_print_logger(self.logger()) if self.log_prints else None
        crashed = False
        try:
            outcome = yield Call(flow.fn, args, kwargs, flow.timeout_seconds, self._timeout_exc)
            crashed = not isinstance(outcome[1], Exception) and not outcome[0]
            if not crashed:
                yield from _wait_for_all(ctx)
        finally:
            if print_token is not None:
                reset_print_logger(print_token)
            flow_run_ctx.reset(token)
            runner.shutdown(wait=not crashed)
        return outcome, ctx

    def _timeout_exc(self) -> BaseException:
        return FlowRunTimeoutError(f"Flow run {self.flow_run.name!r} exceeded timeout of "
                                   f"{self.flow.timeout_seconds:g} second(s)")

    def _final_state(self, outcome: tuple[bool, Any], ctx: FlowRunContext) -> State:
        ok, value = outcome
        if self.flow_run.state.is_cancelling():  # cancelled while paused (engine/pause.py)
            return Cancelled(data=value if not ok else None,
                             message=self.flow_run.state.message or "cancelled")
        if not ok:
            if isinstance(value, FlowRunTimeoutError):
                return TimedOut(data=value, message=str(value))
            if isinstance(value, Exception):
                return Failed(data=value, message=f"Flow run encountered an exception: "
                                                  f"{type(value).__name__}: {value}")
            return Crashed(data=value, message=f"Execution was interrupted: "
                                               f"{type(value).__name__}")
        returned = _returned_state(value)
        if returned is not None:
            return returned
        failed = [f for f in ctx.futures if not f._handled and f.final_state().is_unsuccessful()]
        if failed:
            first = failed[0].final_state()
            names = ", ".join(f.task_run.name for f in failed[:3])
            more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
            return Failed(data=first.data if isinstance(first.data, BaseException) else None,
                          message=f"{len(failed)}/{len(ctx.futures)} task runs failed "
                                  f"({names}{more})")
        return Completed(data=value)

    def _finish(self, state: State, outcome: tuple[bool, Any]) -> State:
        self.set_state(state)
        log = self.logger()
        if state.type is StateType.COMPLETED:
            log.info("Finished in state %s", state.name)
            self._run_hooks(self.flow.on_completion_hooks, state)
        else:
            log.error("Finished in state %s(%s)", state.name, state.message or "")
            hooks = {StateType.CRASHED: self.flow.on_crashed_hooks,
                     StateType.CANCELLED: self.flow.on_cancellation_hooks}
            self._run_hooks(hooks.get(state.type, self.flow.on_failure_hooks), state)
        self.reporter.flush()
        if state.type is StateType.CRASHED and not outcome[0]:
            raise outcome[1]
        return state

    def _run_hooks(self, hooks: list[Any], state: State) -> None:
        for hook in hooks:
            try:
                hook(self.flow, self.flow_run, state)
            except Exception:
                self.logger().exception("hook %r failed", getattr(hook, "__name__", hook))


def _wait_for_all(ctx: FlowRunContext) -> Machine:
    """Wait for every submitted run, including runs submitted by runs still going."""
    seen = 0
    while seen < len(ctx.futures):
        batch = ctx.futures[seen:]
        seen = len(ctx.futures)
        yield Wait(batch)


def _returned_state(value: Any) -> State | None:
    """Prefect's rules for what a flow returns: a state it made itself is its final state;
    a task run's state or future (or a list of them) gives a state of the flow's own,
    Completed only if they all completed, whose result is the returned state(s)."""
    if type(value) is GeneratorType:  # Prefect keeps what a returned generator yields
        return Completed(data=list(value))
    if isinstance(value, State) and getattr(value, "_run_id", None) is None:
        return value
    if isinstance(value, (State, TaskRunFuture)):
        return _from_states([value], value)
    if isinstance(value, (list, tuple, set)) and value and all(
            isinstance(v, (State, TaskRunFuture)) for v in value):
        return _from_states(list(value), value)
    return None


def _from_states(values: list[Any], returned: Any) -> State:
    states = [v.state if isinstance(v, TaskRunFuture) else v for v in values]
    if isinstance(returned, TaskRunFuture):
        returned = states[0]
    elif any(isinstance(v, TaskRunFuture) for v in values):
        returned = type(returned)(states) if not isinstance(returned, set) else states
    total = len(states)
    if all(s.is_completed() for s in states):
        return Completed(data=returned, message="All states completed.")
    cancelled = [s for s in states if s.is_cancelled()]
    if cancelled:
        return Cancelled(data=_exception_of(cancelled[0]),
                         message=f"{len(cancelled)}/{total} states cancelled.")
    bad = [s for s in states if s.is_unsuccessful()]
    if bad:
        return Failed(data=_exception_of(bad[0]), message=f"{len(bad)}/{total} states failed.")
    not_final = sum(1 for s in states if not s.is_final())
    return Failed(message=f"{not_final}/{total} states are not final.")


def _exception_of(state: State) -> BaseException:
    return state.result(raise_on_failure=False)  # type: ignore[no-any-return]


# -- entry point -------------------------------------------------------------------------
def call_flow(flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              return_state: bool) -> Any:
    configure_logging()
    parameters = flow.validate_parameters(flow.bind_parameters(args, kwargs))
    parent = flow_run_ctx.get()
    if parent is not None and parent.tracer is not None:  # a subflow in Flow.visualize()
        return parent.tracer.call(flow.name, parameters)
    if flow.isasync:
        return _call_flow_async(flow, parameters, return_state)
    engine = FlowRunEngine(flow, parameters, parent)
    with watch_flow_run(engine.flow_run, parent is None):
        state: State = drive_sync(engine.machine())
    return state if return_state else state.result()


async def _call_flow_async(flow: Flow[Any, Any], parameters: dict[str, Any],
                           return_state: bool) -> Any:
    parent = flow_run_ctx.get()
    engine = FlowRunEngine(flow, parameters, parent)
    with watch_flow_run(engine.flow_run, parent is None):
        state: State = await drive_async(engine.machine())
    return state if return_state else state.result()
