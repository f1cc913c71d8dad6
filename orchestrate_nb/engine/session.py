"""The session flow run: the one flow run a notebook's kernel records its task cells under.

Opened lazily, on the first ``%%task`` cell, so a kernel that never runs one records
nothing. Each cell's task run is created while :meth:`NotebookSession.active` has set the
flow run context, exactly as a task called inside a ``@flow`` is. The run ends Completed
when the kernel shuts down normally (``atexit``); a kernel that is killed stops the store's
heartbeat, and the store's crash recovery marks the run Crashed.
"""

from __future__ import annotations

import atexit
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchestrate_nb.core.events import FlowRunCreated, RunReporter, StateChanged
from orchestrate_nb.core.states import Completed, Pending, Running, State
from orchestrate_nb.engine.context import FlowRunContext, flow_run_ctx
from orchestrate_nb.engine.records import FlowRun
from orchestrate_nb.engine.reporting import get_reporter

SESSION_TAG = "notebook-session"
_CLOSE_FLUSH_SECONDS = 10.0


def notebook_session() -> None:
    """The body of a session flow: nothing; its task runs come from the cells."""


class NotebookSession:
    """A kernel session's flow run, opened on first use and closed once."""

    def __init__(self, flow_name: str, reporter: RunReporter | None = None) -> None:
        self.flow_name = flow_name
        self.reporter = reporter or get_reporter()
        self._context: FlowRunContext | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._adopted = False

    @property
    def flow_run(self) -> FlowRun | None:
        """The flow run, or None while no cell has run."""
        return self._context.flow_run if self._context is not None else None

    def context(self) -> FlowRunContext:
        """The session's flow run context, opening the flow run on the first call."""
        ctx = self._context
        if ctx is not None:
            return ctx
        with self._lock:
            if self._context is None:
                self._context = self._open()
            return self._context

    @contextmanager
    def active(self) -> Iterator[FlowRunContext]:
        """Make the session's flow run the current one (task runs are created under it)."""
        ctx = self.context()
        token = flow_run_ctx.set(ctx)
        try:
            yield ctx
        finally:
            flow_run_ctx.reset(token)

    def _open(self) -> FlowRunContext:
        from orchestrate_nb.core.flows import Flow
        from orchestrate_nb.engine.task_runners import ThreadPoolTaskRunner
        from orchestrate_nb.settings import adopted_flow_run_id

        flow = Flow(notebook_session, name=self.flow_name, validate_parameters=False)
        adopted = adopted_flow_run_id()
        if adopted is not None:
            self._adopted = True
            run = FlowRun(adopted, f"run-{adopted[:8]}", self.flow_name, {}, (), None, Running())
            return FlowRunContext(flow, run, ThreadPoolTaskRunner(), self.reporter, False)
        pending = Pending()
        run = FlowRun(str(uuid.uuid4()), f"session-{uuid.uuid4().hex[:8]}", self.flow_name,
                      {}, (SESSION_TAG,), None, pending)
        self.reporter.emit(FlowRunCreated(run.id, self.flow_name, run.name, {}, run.tags, None,
                                          None, pending.timestamp, "PENDING", pending.name))
        self._set_state(run, Running())
        # Registered after the first event created the store's reporter: atexit runs
        # handlers last-in first-out, so the session closes before the reporter does.
        atexit.register(self.close)
        return FlowRunContext(flow, run, ThreadPoolTaskRunner(), self.reporter, False)

    def _set_state(self, run: FlowRun, state: State) -> None:
        run.state = state
        if state.is_running():
            run.run_count += 1
            run.start_time = run.start_time or state.timestamp
        elif state.is_final():
            run.end_time = state.timestamp
        self.reporter.emit(StateChanged("flow", run.id, run.id, state.type.value, state.name,
                                        state.message, state.timestamp))

    def close(self, state: State | None = None) -> None:
        """End the flow run (Completed unless ``state`` says otherwise); idempotent."""
        with self._lock:
            ctx, closed = self._context, self._closed
            self._closed = True
        if ctx is None or closed:
            return
        atexit.unregister(self.close)
        ctx.task_runner.shutdown(wait=False)
        if self._adopted:  # the worker's executor ends the run
            self.reporter.flush(_CLOSE_FLUSH_SECONDS)
            return
        self._set_state(ctx.flow_run, state or Completed(message="kernel session ended"))
        self.reporter.flush(_CLOSE_FLUSH_SECONDS)

    def __repr__(self) -> str:
        run: Any = self.flow_run
        return f"NotebookSession(flow={self.flow_name!r}, run={run.name if run else None!r})"
