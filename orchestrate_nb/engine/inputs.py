"""Task inputs: finding upstream futures and results, and replacing futures by values."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from orchestrate_nb.core.states import State
from orchestrate_nb.engine.futures import PrefectFutureList, TaskRunFuture

# Values never tracked as upstream results: small immutables whose ids are shared.
_ATOMIC = (type(None), bool, int, float, complex, str, bytes)
_SEQUENCES = (list, tuple, set, frozenset, PrefectFutureList)


class allow_failure:  # noqa: N801 - Prefect's public name
    """Let a downstream task run even if this upstream future failed; it receives the
    exception as the value."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class unmapped:  # noqa: N801 - Prefect's public name
    """Pass this argument whole to every mapped run instead of iterating over it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Upstream:
    """What a task's inputs depend on."""

    __slots__ = ("futures", "allowed", "edges")

    def __init__(self) -> None:
        self.futures: list[TaskRunFuture] = []
        self.allowed: set[int] = set()  # id() of futures wrapped in allow_failure
        self.edges: list[tuple[str, str]] = []  # (upstream task run id, input name)

    def add_producers(self, producers: Any) -> None:
        """Add the runs that produced a mapped argument as a whole (an edge each; a future
        is also waited for, so a mapped run never starts before its producer ends)."""
        for producer, name in producers:
            if isinstance(producer, TaskRunFuture):
                if producer not in self.futures:
                    self.futures.append(producer)
                producer_id = producer.task_run.id
            else:
                producer_id = producer
            if (producer_id, name) not in self.edges:
                self.edges.append((producer_id, name))


def collect_upstream(parameters: dict[str, Any], wait_for: Any,
                     results_by_id: dict[int, tuple[Any, str]] | None) -> Upstream:
    up = Upstream()
    for name, value in parameters.items():
        _collect(value, name, up, results_by_id, False)
    if wait_for:
        for value in wait_for:
            _collect(value, "wait_for", up, results_by_id, False)
    return up


def _collect(value: Any, name: str, up: Upstream,
             results_by_id: dict[int, tuple[Any, str]] | None, allowed: bool) -> None:
    cls = type(value)
    if cls in _ATOMIC:
        return
    if cls is TaskRunFuture:
        up.futures.append(value)
        up.edges.append((value.task_run.id, name))
        if allowed:
            up.allowed.add(id(value))
            value._handled = True  # the user chose to tolerate this failure
        return
    if cls is allow_failure:
        _collect(value.value, name, up, results_by_id, True)
        return
    if cls is unmapped:
        _collect(value.value, name, up, results_by_id, allowed)
        return
    if results_by_id:
        hit = results_by_id.get(id(value))
        if hit is not None and hit[0] is value:
            up.edges.append((hit[1], name))
            return
    if cls in _SEQUENCES:
        for item in value:
            if type(item) not in _ATOMIC:
                _collect(item, name, up, results_by_id, allowed)
    elif cls is dict:
        for item in value.values():
            if type(item) not in _ATOMIC:
                _collect(item, name, up, results_by_id, allowed)
    else:
        for field in _fields_of(cls):
            item = getattr(value, field, None)
            if type(item) not in _ATOMIC:
                _collect(item, name, up, results_by_id, allowed)


# Wrappers whose ``value`` is passed as it is, never looked into (Prefect's quote/opaque,
# defined in orchestrate_nb.utilities.annotations and registered here on import).
_OPAQUE: set[type] = set()


def register_opaque(cls: type) -> None:
    _OPAQUE.add(cls)
    _FIELDS[cls] = ()  # never walked: the wrapper's class is known to have no fields


def failed_upstream(up: Upstream) -> TaskRunFuture | None:
    """The first upstream future that did not complete and was not allowed to fail."""
    for f in up.futures:
        if id(f) not in up.allowed and not f.final_state().is_completed():
            return f
    return None


def resolve(value: Any, state_of: Callable[[TaskRunFuture], State]) -> Any:
    """Replace futures (and annotations) by values, rebuilding only what contains them."""
    cls = type(value)
    if cls in _ATOMIC:
        return value
    if cls is TaskRunFuture:
        return state_of(value).result(raise_on_failure=False)
    if cls is allow_failure or cls is unmapped:
        return resolve(value.value, state_of)
    if cls in _SEQUENCES:
        items = [resolve(v, state_of) for v in value]
        if cls is PrefectFutureList:
            return items  # the values of a .map(), as a plain list
        if all(a is b for a, b in zip(items, value)):
            return value
        return cls(items)
    if cls is dict:
        resolved = {k: resolve(v, state_of) for k, v in value.items()}
        if all(resolved[k] is v for k, v in value.items()):
            return value
        return resolved
    fields = _fields_of(cls)
    if fields:
        return _resolve_fields(value, fields, state_of)
    if cls in _OPAQUE:
        return value.value
    return value


# -- dataclasses and pydantic models: futures inside their fields count too (Prefect) -------
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields_of(cls: type) -> tuple[str, ...]:
    """The fields of a dataclass or a pydantic model class (empty for other classes)."""
    fields = _FIELDS.get(cls)
    if fields is None:
        dataclass_fields = getattr(cls, "__dataclass_fields__", None)
        model_fields = getattr(cls, "__pydantic_fields__", None)
        if isinstance(dataclass_fields, dict):
            fields = tuple(f.name for f in dataclasses.fields(cls))
        elif isinstance(model_fields, dict):
            fields = tuple(model_fields)
        else:
            fields = ()
        _FIELDS[cls] = fields
    return fields


def _resolve_fields(value: Any, fields: tuple[str, ...],
                    state_of: Callable[[TaskRunFuture], State]) -> Any:
    changed = {}
    for field in fields:
        item = getattr(value, field, None)
        new = resolve(item, state_of)
        if new is not item:
            changed[field] = new
    if not changed:
        return value
    if hasattr(value, "model_copy"):  # pydantic: a copy with the values, not revalidated
        return value.model_copy(update=changed)
    copied = copy.copy(value)
    for field, new in changed.items():
        object.__setattr__(copied, field, new)  # (frozen dataclasses too)
    return copied


def trackable(value: Any) -> bool:
    return type(value) not in _ATOMIC
