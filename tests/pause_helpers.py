"""Helpers for the pause/resume tests: a flow run in a background thread, polling the store."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Callable
from typing import Any

from polling import WAIT_SECONDS, wait_for  # noqa: F401 - re-exported to the tests

Query = Callable[..., list[dict[str, Any]]]  # the ``query`` fixture


class FlowInThread:
    """Calls ``flow(*args, return_state=True)`` in a thread, as a notebook cell would block."""

    def __init__(self, flow: Any, *args: Any, **kwargs: Any) -> None:
        self._outcome: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(flow, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, flow: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            state = flow(*args, return_state=True, **kwargs)
            if inspect.iscoroutine(state):  # an async flow: run on this thread's own loop
                state = asyncio.run(state)
            self._outcome["state"] = state
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self._outcome["error"] = exc

    def state(self, timeout: float = WAIT_SECONDS) -> Any:
        """The flow run's final state (re-raising what the call raised)."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the flow did not end"
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["state"]


def paused_run(query: Query, message_part: str = "") -> dict[str, Any]:
    """The one flow run that is PAUSED now (whose state message contains ``message_part``)."""
    def find() -> dict[str, Any] | None:
        rows = query("SELECT id, state_name, state_message FROM flow_runs "
                     "WHERE state_type = 'PAUSED'")
        rows = [r for r in rows if message_part in (r["state_message"] or "")]
        return rows[0] if rows else None

    return wait_for(find, "a paused flow run")


def run_row(query: Query, run_id: str) -> dict[str, Any]:
    return query("SELECT * FROM flow_runs WHERE id = :id", id=run_id)[0]


def history(query: Query, run_id: str) -> list[str]:
    """The flow run's own states by name, oldest first."""
    return [row["name"] for row in query(
        "SELECT name FROM run_states WHERE flow_run_id = :id AND task_run_id IS NULL "
        "ORDER BY id", id=run_id)]


def json_column(value: Any) -> Any:
    """A JSON column read with raw SQL: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value
