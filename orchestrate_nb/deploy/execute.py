"""Execute one claimed run: ``python -m orchestrate_nb.deploy.execute RUN_ID``.

A worker starts this in a process group of its own (so cancelling kills the whole group)
with ``ORCHESTRATE_NB_FLOW_RUN_ID`` set, so that what runs inside records its task runs
under the claimed flow run:

- a notebook runs with papermill (parameters injected after its ``parameters`` cell) in
  its kernel (``deploy/kernels.py``) started in the deployment's working directory (by
  default the notebook's folder), with our engine
  (``deploy/papermill_engine.py``: the cells' printed lines become the run's log lines); the kernel's ``%%task`` cells adopt
  the run (``engine/session.py``). The executed notebook is written to
  ``ORCHESTRATE_NB_HOME/runs/<run id>.ipynb`` and linked from the run
  (``flow_runs.executed_notebook``), whether the run succeeded or not;
- a Python flow (``file.py:fn``, or a flow pickled by value: ``deploy/flow_pickles.py``) is
  imported or unpickled and called with the run's parameters; the flow engine adopts the
  run id instead of creating a run. A flow that cannot be loaded fails the run with one line
  saying why (e.g. naming a missing or corrupt pickle).

A deployment with ``cache="refresh"`` (the default) sets the engine's refresh-every-cache
switch for the run (``ORCHESTRATE_NB_TASKS_REFRESH_CACHE``, inherited by the kernel): it
reads no result cached by an interactive session, and stores its own.

The run goes RUNNING, then COMPLETED, or FAILED with the exception's name and message. Every
state change is conditional on the run still being active, so a cancellation or a crash
recorded meanwhile is never overwritten. When the worker dies, this process exits (it
polls its parent), and the kernel follows it (ipykernel polls its parent too).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import os
import sys
import threading
from pathlib import Path
from typing import Any

from orchestrate_nb.deploy.kernels import run_kernel
from orchestrate_nb.errors import DeploymentError
from orchestrate_nb.private_files import private_file
from orchestrate_nb.settings import FLOW_RUN_ID_ENV, TASKS_REFRESH_CACHE_ENV, load_settings
from orchestrate_nb.store import claims
from orchestrate_nb.store.database import Database, open_database
from orchestrate_nb.store.orm import Deployment, FlowRun

UTC = dt.timezone.utc
PARENT_POLL_SECONDS = 0.5
ORPHANED_EXIT_CODE = 70


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def executed_notebook_path(run_id: str) -> Path:
    return load_settings().home / "runs" / f"{run_id}.ipynb"


def main(argv: list[str]) -> int:
    run_id = argv[0]
    os.environ[FLOW_RUN_ID_ENV] = run_id
    _exit_with_parent()
    database = open_database()
    try:
        return execute(database, run_id)
    finally:
        database.dispose()


def execute(database: Database, run_id: str) -> int:
    """Run it to a final state; 0 when it completed."""
    from sqlalchemy import select

    with database.write() as conn:
        row = conn.execute(select(Deployment.kind, Deployment.entrypoint, FlowRun.parameters,
                                  Deployment.cache, Deployment.kernel, Deployment.cwd)
                           .join(Deployment, Deployment.id == FlowRun.deployment_id)
                           .where(FlowRun.id == run_id)).first()
        if row is None or not _start(conn, run_id, row.kind):
            return 1
    _set_cache_mode(row.cache)
    failure = _run(database, run_id, row)
    with database.write() as conn:  # (a flow's engine has already ended its run)
        if failure is None:
            claims.set_state(conn, run_id, "COMPLETED", "Completed", None, now(),
                             only_from=("PENDING", "RUNNING"))
        else:
            claims.set_state(conn, run_id, "FAILED", "Failed", failure, now(),
                             only_from=("PENDING", "RUNNING"))
    return 0 if failure is None else 1


def _start(conn: Any, run_id: str, kind: str) -> bool:
    """Whether the run is still PENDING (not cancelled meanwhile); a notebook's run goes
    RUNNING here, a flow's when its engine starts it."""
    if kind == "notebook":
        return claims.set_state(conn, run_id, "RUNNING", "Running", None, now(),
                                only_from=("PENDING",))
    return bool(claims.states_of(conn, [run_id]).get(run_id) == "PENDING")


def _set_cache_mode(cache: str) -> None:
    """A ``refresh`` deployment's run reads no cached result but its own: the engine's
    refresh-every-cache switch, inherited by the notebook's kernel."""
    if cache == "reuse":
        os.environ.pop(TASKS_REFRESH_CACHE_ENV, None)
    else:
        os.environ[TASKS_REFRESH_CACHE_ENV] = "1"


def _run(database: Database, run_id: str, row: Any) -> str | None:
    """Execute; the failure message, or None on success."""
    parameters = row.parameters or {}
    try:
        if row.kind == "notebook":
            notebook = Path(row.entrypoint)
            return _run_notebook(database, run_id, notebook, parameters,
                                 run_kernel(notebook, row.kernel),
                                 Path(row.cwd) if row.cwd else notebook.parent)
        return _run_flow(run_id, row.kind, row.entrypoint, parameters)
    except DeploymentError as exc:  # the flow could not be loaded: the message says why
        return str(exc)
    except Exception as exc:
        return describe(exc)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _run_notebook(database: Database, run_id: str, notebook: Path,
                  parameters: dict[str, Any], kernel: str, cwd: Path) -> str | None:
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from sqlalchemy import update

    from orchestrate_nb.deploy.kernels import kernel_language
    from orchestrate_nb.deploy.papermill_engine import describe_failure
    from orchestrate_nb.deploy.papermill_engine import register as register_engine
    from orchestrate_nb.engine.reporting import flush_and_close_store

    output = executed_notebook_path(run_id)
    private_file(output)  # papermill then writes into it: it keeps mode 0600
    # the kernel's notebook, as JupyterLab would say: its task cells are this notebook's
    # (cache and run index per notebook), whether run here or interactively
    os.environ["JPY_SESSION_NAME"] = str(notebook.resolve())
    with database.write() as conn:
        conn.execute(update(FlowRun).where(FlowRun.id == run_id)
                     .values(executed_notebook=str(output)))
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   kernel_name=kernel, language=kernel_language(kernel),
                                   cwd=str(cwd), progress_bar=False,
                                   engine_name=register_engine())
    except PapermillExecutionError as exc:
        return describe_failure(exc)
    finally:
        flush_and_close_store()  # the cells' output lines are in the store before the end
    return None


def _run_flow(run_id: str, kind: str, entrypoint: str,
              parameters: dict[str, Any]) -> str | None:
    from orchestrate_nb.deploy.deployments import load_deployed_flow
    from orchestrate_nb.engine.context import adopted_flow_run_ctx
    from orchestrate_nb.engine.reporting import flush_and_close_store

    flow = load_deployed_flow(kind, entrypoint)
    adopted_flow_run_ctx.set(run_id)
    state = flow(**parameters, return_state=True)
    if inspect.isawaitable(state):  # an ``async def`` flow
        state = asyncio.run(_awaited(state))
    flush_and_close_store()  # its task runs are in the store before the run ends
    if state.is_completed():
        return None
    return state.message or state.name


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _exit_with_parent() -> None:
    """Exit when the worker that started this process is gone (e.g. killed)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(PARENT_POLL_SECONDS)
        os._exit(ORPHANED_EXIT_CODE)

    threading.Thread(target=watch, name="orchestrate-nb-parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
