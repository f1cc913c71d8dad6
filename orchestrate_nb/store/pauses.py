"""Paused flow runs in the store: pause, poll, resume, time out (``pause_flow_run``).

While a run is paused its state is changed by two processes: the paused one and whoever
runs ``orchestrate-nb runs resume``/``cancel``. So every change here is a conditional
UPDATE on the run's current state, with its state-history row, and whichever comes first
wins: a resume and a timeout (both PAUSED → RUNNING) never both happen, nor a resume and a
cancel (PAUSED → CANCELLING, ``claims.request_cancel``).

- ``pause``: RUNNING → PAUSED "Paused", storing the input's JSON schema and the timeout;
- ``resume``: PAUSED → RUNNING "Resumed" with the (checked) input;
- ``time_out``: PAUSED → RUNNING "Running", written by the paused process at its timeout;
- ``refuse_input``: RUNNING → PAUSED again when the paused process's model refuses input.

A resume leaves ``start_time`` and ``run_count`` alone: it continues the attempt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, select, update

from orchestrate_nb.core.run_input import check_run_input
from orchestrate_nb.errors import ResumeError
from orchestrate_nb.settings import Settings
from orchestrate_nb.store.claims import record_state
from orchestrate_nb.store.database import Database, open_database, store_errors
from orchestrate_nb.store.orm import FlowRun

UTC = dt.timezone.utc


class PauseStatus(NamedTuple):
    """What the paused process polls (state type None: the run is not in the store)."""

    state_type: str | None
    state_name: str | None
    state_message: str | None
    resume_input: dict[str, Any] | None


@dataclass(frozen=True)
class PauseInfo:
    """A run's state and pause columns, as ``runs resume`` and ``runs show`` need them."""

    id: str
    state_type: str
    state_name: str
    input_schema: dict[str, Any] | None
    expires: dt.datetime | None
    resume_input: dict[str, Any] | None


def pause_info(conn: Connection, run_id: str) -> PauseInfo | None:
    row = conn.execute(select(FlowRun.id, FlowRun.state_type, FlowRun.state_name,
                              FlowRun.pause_input_schema, FlowRun.pause_expires,
                              FlowRun.resume_input).where(FlowRun.id == run_id)).first()
    return PauseInfo(*row) if row is not None else None


def pause(conn: Connection, run_id: str, message: str, input_schema: dict[str, Any] | None,
          expires: dt.datetime, now: dt.datetime) -> bool:
    return _transition(conn, run_id, "RUNNING", "PAUSED", "Paused", message, now,
                       pause_input_schema=input_schema, pause_expires=expires,
                       resume_input=None)


def resume(conn: Connection, run_id: str, run_input: dict[str, Any] | None,
           now: dt.datetime) -> bool:
    """Resume with input already checked (``resume_flow_run`` checks it)."""
    message = ("resumed with input: " + ", ".join(run_input)) if run_input else "resumed"
    return _transition(conn, run_id, "PAUSED", "RUNNING", "Resumed", message, now,
                       resume_input=run_input)


def time_out(conn: Connection, run_id: str, message: str, now: dt.datetime) -> bool:
    return _transition(conn, run_id, "PAUSED", "RUNNING", "Running", message, now)


def refuse_input(conn: Connection, run_id: str, message: str, now: dt.datetime) -> bool:
    return _transition(conn, run_id, "RUNNING", "PAUSED", "Paused", message, now,
                       resume_input=None)


def _transition(conn: Connection, run_id: str, only_from: str, state_type: str, name: str,
                message: str, now: dt.datetime, **columns: Any) -> bool:
    changed = conn.execute(
        update(FlowRun).where(FlowRun.id == run_id, FlowRun.state_type == only_from)
        .values(state_type=state_type, state_name=name, state_message=message, **columns)
    ).rowcount
    if changed:
        record_state(conn, run_id, state_type, name, message, now)
    return bool(changed)


# -- resuming (the CLI, the Python API) ----------------------------------------------------
def resume_flow_run(flow_run_id: str, run_input: dict[str, Any] | None = None,
                    settings: Settings | None = None) -> str:
    """Resume a paused flow run (its id, or a unique prefix of it); returns its id.

    ``run_input`` is checked against the schema of the input the run waits for; refused
    input, or a run that is not paused, raises ``ResumeError`` and nothing is written.
    """
    from orchestrate_nb.store.repository import open_repository

    with open_repository(settings) as repository:
        run_id = repository.get_flow_run(flow_run_id).id
        database = repository.database
        with store_errors(database, "write"), database.write() as conn:
            info = pause_info(conn, run_id)
            checked = _checked_input(info, run_input, run_id)
            if not resume(conn, run_id, checked, dt.datetime.now(UTC)):
                raise ResumeError(f"flow run {run_id} is no longer paused")
    return run_id


def read_pause_info(flow_run_id: str, settings: Settings | None = None) -> PauseInfo:
    """The pause columns of a flow run (its id, or a unique prefix of it)."""
    from orchestrate_nb.store.repository import open_repository

    with open_repository(settings) as repository:
        run_id = repository.get_flow_run(flow_run_id).id
        info = load_pause_info(repository.database, run_id)
    if info is None:
        raise ResumeError(f"flow run {run_id} was deleted")
    return info


def load_pause_info(database: Database, run_id: str) -> PauseInfo | None:
    with store_errors(database), database.read() as conn:
        return pause_info(conn, run_id)


def _checked_input(info: PauseInfo | None, run_input: dict[str, Any] | None,
                   run_id: str) -> dict[str, Any] | None:
    if info is None or info.state_type != "PAUSED":
        state = info.state_name if info is not None else "deleted"
        raise ResumeError(f"flow run {run_id} is not paused (it is {state})")
    try:
        return check_run_input(info.input_schema, run_input)
    except ResumeError as exc:
        raise ResumeError(f"cannot resume flow run {run_id}: {exc}") from None


# -- the paused process's side (engine/pause.py's PauseControl) --------------------------
class StorePauseControl:
    """``engine.pause.PauseControl`` on the run store's database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def pause(self, run_id: str, message: str, input_schema: dict[str, Any] | None,
              expires: dt.datetime) -> PauseStatus:
        with store_errors(self.database, "write"), self.database.write() as conn:
            pause(conn, run_id, message, input_schema, expires, _now())
            return _status(conn, run_id)

    def status(self, run_id: str) -> PauseStatus:
        with self.database.read() as conn:
            return _status(conn, run_id)

    def time_out(self, run_id: str, message: str) -> bool:
        with store_errors(self.database, "write"), self.database.write() as conn:
            return time_out(conn, run_id, message, _now())

    def refuse_input(self, run_id: str, message: str) -> bool:
        with store_errors(self.database, "write"), self.database.write() as conn:
            return refuse_input(conn, run_id, message, _now())

    def close(self) -> None:
        self.database.dispose()


def _status(conn: Connection, run_id: str) -> PauseStatus:
    row = conn.execute(select(FlowRun.state_type, FlowRun.state_name, FlowRun.state_message,
                              FlowRun.resume_input).where(FlowRun.id == run_id)).first()
    return PauseStatus(*row) if row is not None else PauseStatus(None, None, None, None)


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def open_pause_control(settings: Settings) -> StorePauseControl:
    """The factory ``engine/pause.py`` loads lazily, by import string."""
    return StorePauseControl(open_database(settings))
