"""What the three runtime modules share: environment overrides and type conversion."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.settings import runtime_override


def _to_datetime(text: str) -> _dt.datetime:
    value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc)


_CASTS: dict[type, Callable[[str], Any]] = {
    bool: lambda text: text.strip().lower() == "true",
    int: int,
    float: float,
    str: str,
    type(None): str,
    _dt.datetime: _to_datetime,
}


def lookup(module: str, fields: dict[str, Callable[[], Any]], name: str) -> Any:
    """The attribute ``name`` of runtime module ``module`` (``flow_run``...)."""
    getter = fields.get(name)
    override = runtime_override(module, name)
    if getter is None:
        if override is not None:
            return override
        raise AttributeError(f"module 'orchestrate_nb.runtime.{module}' has no attribute "
                             f"{name!r} (it has {', '.join(sorted(fields))})")
    value = getter()
    if override is None:
        return value
    cast = _CASTS.get(type(value))
    if cast is None:
        raise OrchestrateError(f"orchestrate_nb.runtime.{module}.{name} cannot be set by an "
                               "environment variable (its value is not text, a number, a "
                               "flag or a time); patch it in the test instead")
    return cast(override)
