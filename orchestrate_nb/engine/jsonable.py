"""JSON-safe copies of run parameters for the store (reprs where JSON has no type)."""

from __future__ import annotations

from typing import Any

_MAX_REPR = 200
_MAX_ITEMS = 50


def jsonable(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value if not isinstance(value, str) or len(value) <= 1000 else value[:1000] + "…"
    if depth < 3:
        if isinstance(value, (list, tuple)) and len(value) <= _MAX_ITEMS:
            return [jsonable(v, depth + 1) for v in value]
        if isinstance(value, dict) and len(value) <= _MAX_ITEMS and all(
                isinstance(k, str) for k in value):
            return {k: jsonable(v, depth + 1) for k, v in value.items()}
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 1] + "…"


def jsonable_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    return {name: jsonable(value) for name, value in parameters.items()}
