"""Flow parameter validation from type hints, with pydantic (imported only when needed)."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from orchestrate_nb.errors import ParameterTypeError


class ParameterValidator:
    """Validates and coerces the annotated parameters of one flow function."""

    def __init__(self, flow_name: str, fn: Callable[..., Any], sig: inspect.Signature) -> None:
        self.flow_name = flow_name
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable forward references: validate nothing
            hints = {}
        self.annotated = {
            p.name: hints[p.name] for p in sig.parameters.values()
            if p.name in hints and hints[p.name] is not Any
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
        self._adapters: dict[str, Any] | None = None

    def _get_adapters(self) -> dict[str, Any]:
        if self._adapters is None:
            from pydantic import ConfigDict, TypeAdapter

            config = ConfigDict(arbitrary_types_allowed=True)
            adapters = {}
            for name, hint in self.annotated.items():
                try:
                    adapters[name] = TypeAdapter(hint, config=config)
                except Exception:
                    adapters[name] = TypeAdapter(hint)
            self._adapters = adapters
        return self._adapters

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        if not self.annotated:
            return parameters
        from pydantic import ValidationError

        result = dict(parameters)
        for name, adapter in self._get_adapters().items():
            if name not in parameters:
                continue
            value = parameters[name]
            try:
                result[name] = adapter.validate_python(value)
            except ValidationError as exc:
                reason = exc.errors()[0].get("msg", str(exc)) if exc.errors() else str(exc)
                raise ParameterTypeError(
                    f"flow {self.flow_name!r}: parameter {name!r} got {_short(value)}: {reason}"
                ) from None
        return result


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
