"""Run states as values (Prefect semantics: Failed means the user's code failed,
Crashed means the infrastructure did)."""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

from orchestrate_nb.errors import UnfinishedRun

UTC = _dt.timezone.utc


def now() -> _dt.datetime:
    return _dt.datetime.now(UTC)


class StateType(str, enum.Enum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"


FINAL_TYPES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)
_UNSUCCESSFUL = frozenset({StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})


class State:
    """A run's state: a type, a display name, a message, a timestamp and its data.

    ``data`` holds the return value of a completed run or the exception of a failed one.
    """

    # _run_id: set (only) on the final state of a task run, never in __init__ (zero cost);
    # a flow returning such a state ends in a state of its own, as in Prefect.
    __slots__ = ("type", "name", "message", "timestamp", "data", "details", "_run_id")
    _run_id: str

    def __init__(
        self,
        type: StateType,
        name: str | None = None,
        message: str | None = None,
        data: Any = None,
        timestamp: _dt.datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.type = type
        self.name = name or type.value.title()
        self.message = message
        self.data = data
        self.timestamp = timestamp or now()
        self.details = details

    # -- predicates (Prefect names) -------------------------------------------------
    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_cancelling(self) -> bool:
        return self.type is StateType.CANCELLING

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_final(self) -> bool:
        return self.type in FINAL_TYPES

    def is_unsuccessful(self) -> bool:
        return self.type in _UNSUCCESSFUL

    # -- results ---------------------------------------------------------------------
    def result(self, raise_on_failure: bool = True, fetch: bool = True) -> Any:
        """The run's return value; the run's exception is raised (or returned) on failure."""
        if self.type in _UNSUCCESSFUL:
            exc = self.data if isinstance(self.data, BaseException) else None
            if exc is None:
                exc = _exception_for(self)
            if raise_on_failure:
                raise exc
            return exc
        if self.type is not StateType.COMPLETED:
            if self.type is StateType.PAUSED:
                from orchestrate_nb.errors import PausedRun

                raise PausedRun("Run is paused, its result is not available.")
            raise UnfinishedRun(f"run is {self.name}, it has no result yet")
        return self.data

    def copy(self, **changes: Any) -> State:
        fields = {k: getattr(self, k) for k in ("type", "name", "message", "data", "timestamp", "details")}
        fields.update(changes)
        return State(**fields)

    def __repr__(self) -> str:
        msg = f", message={self.message!r}" if self.message else ""
        return f"{self.name}(type={self.type.value}{msg})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return (self.type, self.name, self.message, self.timestamp) == (
            other.type, other.name, other.message, other.timestamp)

    __hash__ = None  # type: ignore[assignment]


def _exception_for(state: State) -> BaseException:
    """The exception a state without one of its own raises (Prefect's classes)."""
    from orchestrate_nb.errors import CancelledRun, CrashedRun, FailedRun

    message = state.message or f"run ended {state.name}"
    if state.type is StateType.CANCELLED:
        return CancelledRun(message)
    if state.type is StateType.CRASHED:
        return CrashedRun(message)
    return FailedRun(message)


def _make(type_: StateType, default_name: str | None = None):  # type: ignore[no-untyped-def]
    def constructor(
        message: str | None = None,
        data: Any = None,
        name: str | None = None,
        timestamp: _dt.datetime | None = None,
        details: dict[str, Any] | None = None,
        **extra: Any,
    ) -> State:
        if extra:
            details = {**(details or {}), **extra}
        return State(type_, name or default_name, message, data, timestamp, details)

    constructor.__name__ = default_name or type_.value.title()
    constructor.__doc__ = f"A {constructor.__name__} state ({type_.value})."
    return constructor


Scheduled = _make(StateType.SCHEDULED)
Late = _make(StateType.SCHEDULED, "Late")
AwaitingRetry = _make(StateType.SCHEDULED, "AwaitingRetry")
Pending = _make(StateType.PENDING)
Running = _make(StateType.RUNNING)
Retrying = _make(StateType.RUNNING, "Retrying")
Completed = _make(StateType.COMPLETED)
Cached = _make(StateType.COMPLETED, "Cached")
Failed = _make(StateType.FAILED)
TimedOut = _make(StateType.FAILED, "TimedOut")
Crashed = _make(StateType.CRASHED)
Cancelled = _make(StateType.CANCELLED)
Cancelling = _make(StateType.CANCELLING)
Paused = _make(StateType.PAUSED)
Suspended = _make(StateType.PAUSED, "Suspended")

__all__ = [
    "State", "StateType", "FINAL_TYPES", "Scheduled", "Late", "AwaitingRetry", "Pending",
    "Running", "Retrying", "Completed", "Cached", "Failed", "TimedOut", "Crashed", "Cancelled",
    "Cancelling", "Paused", "Suspended",
]
