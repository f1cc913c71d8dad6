"""What a task cell's run returns, and what its cache entry holds: the variables it defined
(and the inputs it mutated), their fingerprints, its output and displays in order, its
displayed value and how long it took.

:class:`CellResultStore` is the task engine's result storage for cells: the default result
store, except that a result that cannot be stored is not an error. It is skipped, and
``CellResult.not_cached`` says why in one line that names the variable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrate_nb.notebook.capture import OutputEvent
from orchestrate_nb.notebook.fingerprints import unpicklable_reason
from orchestrate_nb.results.fingerprint import FingerprintError, fingerprint
from orchestrate_nb.results.serializers import Serializer
from orchestrate_nb.results.store import ResultStore, default_store


@dataclass
class CellResult:
    outputs: dict[str, Any]
    fingerprints: dict[str, str]
    events: list[OutputEvent]
    duration: float
    has_value: bool = False
    value: Any = None
    deleted: tuple[str, ...] = ()
    mutated: tuple[str, ...] = ()  # inputs the cell changed in place (also in outputs)
    # files it opened (absolute paths; listings end with "/") -> content fingerprint at its
    # end; which of them it read, which it wrote
    files: dict[str, str] = field(default_factory=dict)
    read: tuple[str, ...] = ()
    written: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # files named in its code that it only appended to
    not_cached: str | None = field(default=None, compare=False)  # why it was not stored

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["not_cached"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(files={}, read=(), written=(), skipped=())  # entries from before files
        self.__dict__.update(state)


class CellResultStore(ResultStore):
    """The default result store, for cell results (see the module's docstring)."""

    @property
    def url(self) -> str:  # type: ignore[override]
        return default_store().url

    def read(self, key: str) -> tuple[bool, Any]:
        return default_store().read(key)

    def write(self, key: str, value: Any, serializer: Serializer,
              expires_in: float | None = None, task_key: str | None = None) -> None:
        if not isinstance(value, CellResult) or value.not_cached:
            return
        try:
            self._write(key, value, serializer, expires_in, task_key)
        except Exception as exc:  # noqa: BLE001 - the cell ran fine; only caching failed
            value.not_cached = why_not_stored(value, exc)

    def _write(self, key: str, value: Any, serializer: Serializer,
               expires_in: float | None, task_key: str | None) -> None:
        default_store().write(key, value, serializer, expires_in, task_key)

    def delete(self, key: str) -> bool:
        return default_store().delete(key)

    def clear(self, task_key: str | None = None) -> int:
        return default_store().clear(task_key)


CELL_STORE = CellResultStore()


def why_not_stored(result: CellResult, exc: Exception) -> str:
    """One line naming what could not be stored."""
    for name, value in _parts(result):
        problem = _pickling_problem(value)
        if problem is not None:
            return unpicklable_reason(name, problem)
    text = str(exc).strip().splitlines()
    return f"the result store could not take it ({text[0] if text else type(exc).__name__})"


def _parts(result: CellResult) -> Iterable[tuple[str, Any]]:
    yield from result.outputs.items()
    if result.has_value:
        yield "the cell's value", result.value


def _pickling_problem(value: Any) -> str | None:
    import cloudpickle

    try:
        cloudpickle.dumps(value)
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot be stored"
        try:
            fingerprint(value)
        except FingerprintError as error:
            return error.problem
        return f"{type(value).__name__} can't be pickled ({type(exc).__name__})"
    return None
