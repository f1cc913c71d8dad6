"""The task run state machine: Pending → Running → (AwaitingRetry → Retrying)* → final."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Sequence
from types import GeneratorType
from typing import TYPE_CHECKING, Any

from orchestrate_nb.core.events import DependencyEdge, StateChanged, TaskRunCreated
from orchestrate_nb.core.ids import time_ordered_id
from orchestrate_nb.core.options import call_args
from orchestrate_nb.core.retries import retry_delay
from orchestrate_nb.core.states import (
    AwaitingRetry,
    Cached,
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
from orchestrate_nb.engine import inputs
from orchestrate_nb.engine import logging as _run_logging
from orchestrate_nb.engine.calls import user_traceback
from orchestrate_nb.engine.concurrency import Lease, acquire_task_slots, may_be_limited
from orchestrate_nb.engine.context import (
    FlowRunContext,
    TaskRunContext,
    flow_run_ctx,
    tags_ctx,
    task_run_ctx,
)
from orchestrate_nb.engine.driver import (
    AsyncCaller,
    Blocking,
    Call,
    Machine,
    Sleep,
    SyncCaller,
    Wait,
    drive_async,
    drive_sync,
    local_call_async,
    local_call_sync,
)
from orchestrate_nb.engine.futures import TaskRunFuture
from orchestrate_nb.engine.logging import (
    configure_logging,
    reset_print_logger,
    run_logger,
    set_print_logger,
)
from orchestrate_nb.engine.names import render_run_name
from orchestrate_nb.engine.records import TaskRun, enter_state
from orchestrate_nb.engine.reporting import get_reporter
from orchestrate_nb.engine.transactions import current_transaction, stage_task_run
from orchestrate_nb.errors import TaskRunTimeoutError


def caching_configured(task: Task[Any, Any]) -> bool:
    """Cheap check on the hot path: does this task ask for its results to be cached?"""
    return task.caching_configured


def task_cache_for(task: Task[Any, Any], task_run: TaskRun, parameters: dict[str, Any],
                   flow_ctx: FlowRunContext | None) -> Any:
    """The cache of one task run: ``key``, ``reason`` (why it cannot be cached, or None),
    ``lookup() -> (hit, value)`` and ``save(value)``. Lives in the results layer."""
    from orchestrate_nb.engine.caching import TaskRunCache

    return TaskRunCache(task, task_run, parameters, flow_ctx)

if TYPE_CHECKING:
    from orchestrate_nb.core.tasks import Task

_hooks_log = logging.getLogger("orchestrate_nb.hooks")


class TaskRunEngine:
    """One task run, from creation to its final state."""

    __slots__ = ("task", "parameters", "flow_ctx", "reporter", "task_run", "upstream",
                 "log_prints")

    def __init__(self, task: Task[Any, Any], parameters: dict[str, Any], wait_for: Any,
                 flow_ctx: FlowRunContext | None, map_index: int = -1,
                 producers: Sequence[tuple[TaskRunFuture | str, str]] = ()) -> None:
        self.task = task
        self.parameters = parameters
        self.flow_ctx = flow_ctx
        self.reporter = flow_ctx.reporter if flow_ctx is not None else get_reporter()
        flow_run_id = flow_ctx.flow_run.id if flow_ctx is not None else None
        tags = task.tags | tags_ctx.get()
        tag_tuple = tuple(sorted(tags)) if tags else ()
        state = Pending()
        self.task_run = TaskRun(time_ordered_id(), "", task.name, task.task_key,
                                flow_run_id, tag_tuple, map_index, parameters, state)
        tr = self.task_run
        tr.name = self._run_name()
        self.reporter.emit(TaskRunCreated(tr.id, flow_run_id, task.name, task.task_key, tr.name,
                                          tag_tuple, map_index, state.timestamp,
                                          "PENDING", state.name))
        self.upstream = inputs.collect_upstream(
            parameters, wait_for, flow_ctx.results_by_id if flow_ctx is not None else None)
        self.upstream.add_producers(producers)
        for upstream_id, input_name in self.upstream.edges:
            self.reporter.emit(DependencyEdge(flow_run_id, upstream_id, tr.id, input_name))
        log_prints = task.log_prints
        if log_prints is None:
            log_prints = flow_ctx.log_prints if flow_ctx is not None else False
        self.log_prints = log_prints

    def _run_name(self) -> str:
        task = self.task
        if task.task_run_name is not None:
            if not callable(task.task_run_name):
                return render_run_name(task.task_run_name, self.parameters, "task_run_name")
            # a callable may read orchestrate_nb.runtime.task_run (Prefect's idiom)
            token = task_run_ctx.set(TaskRunContext(task, self.task_run, False,
                                                    self.parameters))
            try:
                return render_run_name(task.task_run_name, self.parameters, "task_run_name")
            finally:
                task_run_ctx.reset(token)
        if self.flow_ctx is not None:
            return self.flow_ctx.next_task_run_name(task.name)
        return f"{task.name}-{uuid.uuid4().hex[:3]}"

    # -- states --------------------------------------------------------------------------
    def set_state(self, state: State) -> None:
        tr = self.task_run
        enter_state(tr, state)
        cache_key = state.details.get("cache_key") if state.details else None
        self.reporter.emit(StateChanged("task", tr.id, tr.flow_run_id, state.type.value,
                                        state.name, state.message, state.timestamp, cache_key))

    # -- the machine ---------------------------------------------------------------------
    def machine(self) -> Machine:
        """Run the task; returns its final state (re-raises BaseExceptions after Crashed)."""
        if self.upstream.futures:
            yield Wait(self.upstream.futures)
            blocked = inputs.failed_upstream(self.upstream)
            if blocked is not None:
                return self._finish(Failed(
                    name="NotReady",
                    message=f"Upstream task run {blocked.task_run.name!r} did not complete "
                            f"({blocked.final_state().name}); this task did not run"))
        parameters = {k: inputs.resolve(v, TaskRunFuture.final_state)
                      for k, v in self.parameters.items()}
        args, kwargs = call_args(self.task.signature, parameters)
        token = task_run_ctx.set(TaskRunContext(self.task, self.task_run, self.log_prints,
                                                parameters))
        if self.log_prints:
            print_token = set_print_logger(self.logger())
        elif self.task.log_prints is False:  # the task's own False wins over its flow's True
            print_token = set_print_logger(None)
        else:
            print_token = None
        try:
            state = yield from self._attempts(args, kwargs, parameters)
        finally:
            if print_token is not None:
                reset_print_logger(print_token)
            task_run_ctx.reset(token)
        return state

    def _attempts(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                  parameters: dict[str, Any]) -> Machine:
        task = self.task
        cache = None
        if caching_configured(task):
            cache = task_cache_for(task, self.task_run, parameters, self.flow_ctx)
            if cache.reason:
                self.logger().warning("not cached: %s", cache.reason)
            else:
                hit, value = yield Blocking(cache.lookup)
                if hit:
                    return self._finish(Cached(data=value, details={"cache_key": cache.key}))
        # Slots of the run's limited tags, held across retries until the run ends. Hot path:
        # an untagged run pays one check; a tagged one a lookup in a per-process cache.
        tags = self.task_run.tags
        if not tags or not may_be_limited(tags):
            return (yield from self._run_attempts(args, kwargs, cache))
        lease: Lease | None = yield Blocking(
            functools.partial(acquire_task_slots, self.task_run, self.logger))
        try:
            return (yield from self._run_attempts(args, kwargs, cache))
        finally:
            if lease is not None:
                lease.release()

    def _run_attempts(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                      cache: Any) -> Machine:
        task = self.task
        attempt = 0
        while True:
            self.set_state(Running() if attempt == 0 else Retrying())
            if task.on_running_hooks:
                self._run_hooks(task.on_running_hooks, self.task_run.state)
            ok, value = yield Call(task.fn, args, kwargs, task.timeout_seconds, self._timeout_exc)
            if ok:
                if type(value) is GeneratorType:  # Prefect keeps what a returned generator yields
                    value = list(value)
                if isinstance(value, State):
                    return self._finish(value)
                txn = current_transaction.get()
                if txn is None and not task.on_commit_hooks and not task.on_rollback_hooks:
                    if cache is not None and not cache.reason:
                        yield Blocking(functools.partial(cache.save, value))
                    return self._finish(Completed(data=value))
                return (yield from self._finish_in_transaction(txn, value, cache))
            if not isinstance(value, Exception):
                self._finish(Crashed(data=value, message=f"Execution was interrupted: "
                                                       f"{type(value).__name__}"))
                raise value
            failed = self._failed_state(value)
            if attempt < task.retries and self._should_retry(failed):
                attempt += 1
                delay = retry_delay(task.retry_delays, attempt, task.retry_jitter_factor)
                self.logger().warning(
                    "Task run failed with exception: %r - Retry %d/%d will start %s",
                    value, attempt, task.retries,
                    f"{delay:g} second(s) from now" if delay else "immediately")
                self.set_state(AwaitingRetry(message=f"Retry {attempt}/{task.retries}"))
                yield Sleep(delay)
                continue
            self.logger().error("Task run failed with exception: %r%s", value,
                                " - Retries are exhausted" if task.retries else "",
                                exc_info=(type(value), value, user_traceback(value)))
            return self._finish(failed)

    def _finish_in_transaction(self, txn: Any, value: Any, cache: Any) -> Machine:
        """Complete inside a transaction: the cache record is written, and the commit
        hooks run, when the transaction commits (at once when none is open)."""
        state = self._finish(Completed(data=value))
        cached = cache is not None and not cache.reason
        save = functools.partial(cache.save, value) if cached else None
        yield Blocking(functools.partial(stage_task_run, txn, self, value,
                                         cache.key if cached else None, save))
        return state

    def _timeout_exc(self) -> BaseException:
        return TaskRunTimeoutError(
            f"Task run {self.task_run.name!r} exceeded timeout of "
            f"{self.task.timeout_seconds:g} second(s)")

    @staticmethod
    def _failed_state(exc: BaseException) -> State:
        if isinstance(exc, TaskRunTimeoutError):
            return TimedOut(data=exc, message=str(exc))
        return Failed(data=exc, message=f"Task run encountered an exception "
                                        f"{type(exc).__name__}: {exc}")

    def _should_retry(self, failed: State) -> bool:
        condition = self.task.retry_condition_fn
        if condition is None:
            return True
        try:
            return bool(condition(self.task, self.task_run, failed))
        except Exception:
            self.logger().exception("retry_condition_fn raised; not retrying")
            return False

    def _finish(self, state: State) -> State:
        state._run_id = self.task_run.id  # a task run's state (a flow returning it: Prefect)
        self.set_state(state)
        ctx = self.flow_ctx
        if state.type is StateType.COMPLETED:
            if _run_logging.state_lines:
                self.logger().debug("Finished in state %s()", state.name)
            if ctx is not None and inputs.trackable(state.data):
                ctx.results_by_id[id(state.data)] = (state.data, self.task_run.id)
            self._run_hooks(self.task.on_completion_hooks, state)
        elif state.is_unsuccessful():
            if _run_logging.state_lines:  # (its error was logged already, in one line)
                self.logger().debug("Finished in state %s(%r)", state.name,
                                    state.message or "")
            self._run_hooks(self.task.on_failure_hooks, state)
        return state

    def _run_hooks(self, hooks: list[Any], state: State) -> None:
        for hook in hooks:
            try:
                hook(self.task, self.task_run, state)
            except Exception:
                self.logger().exception("hook %r failed", getattr(hook, "__name__", hook))

    def logger(self) -> logging.LoggerAdapter[Any]:
        return run_logger(task_run=self.task_run)

    # -- for task runners: a submitted run always resolves to a state, even on a crash ----
    def run_sync(self, caller: SyncCaller = local_call_sync) -> State:
        try:
            state: State = drive_sync(self.machine(), caller)
        except BaseException:  # noqa: BLE001 - recorded as Crashed by the machine
            return self.task_run.state
        return state

    async def run_async(self, caller: AsyncCaller = local_call_async) -> State:
        try:
            state: State = await drive_async(self.machine(), caller)
        except BaseException:  # noqa: BLE001 - recorded as Crashed by the machine
            return self.task_run.state
        return state


# -- entry points ------------------------------------------------------------------------
def _flow_ctx() -> FlowRunContext | None:
    return flow_run_ctx.get()


def call_task(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              return_state: bool, wait_for: Any) -> Any:
    """``my_task(...)``: run now, in this thread; return the value (or the state)."""
    configure_logging()
    parameters = task.bind_parameters(args, kwargs)
    ctx = _flow_ctx()
    if ctx is not None and ctx.tracer is not None:  # Flow.visualize(): record, don't run
        return ctx.tracer.call(task.name, parameters, wait_for, task.viz_return_value)
    engine = TaskRunEngine(task, parameters, wait_for, ctx)
    if task.isasync and not _in_sync_run(ctx):
        return _call_task_async(engine, return_state)
    state = drive_sync(engine.machine())
    if ctx is None:
        engine.reporter.flush()
    return state if return_state else state.result()


def _in_sync_run(ctx: FlowRunContext | None) -> bool:
    """True inside a sync flow or sync task: there an async task runs to completion."""
    task_ctx = task_run_ctx.get()
    if task_ctx is not None:
        return not task_ctx.task.isasync
    return ctx is not None and not ctx.flow.isasync


async def _call_task_async(engine: TaskRunEngine, return_state: bool) -> Any:
    state = await drive_async(engine.machine())
    if engine.flow_ctx is None:
        engine.reporter.flush()
    return state if return_state else state.result()


def flow_ctx_or_raise(task: Task[Any, Any]) -> FlowRunContext:
    ctx = _flow_ctx()
    if ctx is None:
        from orchestrate_nb.errors import OrchestrateError

        raise OrchestrateError(
            f"task {task.name!r}: .submit() and .map() need a running flow; call the task "
            "directly, or from inside a @flow")
    return ctx


def submit_task(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                return_state: bool, wait_for: Any, map_index: int = -1) -> Any:
    """``my_task.submit(...)``: run in the flow's task runner; return a future."""
    ctx = flow_ctx_or_raise(task)
    if ctx.tracer is not None:  # Flow.visualize(): record, don't run
        return ctx.tracer.call(task.name, task.bind_parameters(args, kwargs), wait_for,
                               task.viz_return_value)
    configure_logging()
    future = submit_parameters(ctx, task, task.bind_parameters(args, kwargs), wait_for, map_index)
    if return_state:
        return future.final_state()
    return future


def submit_parameters(ctx: FlowRunContext, task: Task[Any, Any], parameters: dict[str, Any],
                      wait_for: Any, map_index: int,
                      producers: Sequence[tuple[TaskRunFuture | str, str]] = ()
                      ) -> TaskRunFuture:
    engine = TaskRunEngine(task, parameters, wait_for, ctx, map_index, producers)
    future = TaskRunFuture(engine.task_run,
                           ctx.task_runner.submit(engine, engine.upstream.futures))
    ctx.futures.append(future)
    return future


