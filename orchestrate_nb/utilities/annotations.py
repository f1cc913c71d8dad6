"""Prefect's argument annotations (``from orchestrate_nb.utilities.annotations import
quote``): ``unmapped``, ``allow_failure``, ``quote`` and ``opaque``.

``quote(x)`` / ``opaque(x)`` pass ``x`` to a task as it is: the engine does not look
inside it for futures (a large list or dict then costs nothing to inspect), so no
dependency edge is found inside it either. The task receives ``x`` itself.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from orchestrate_nb.engine.inputs import allow_failure, unmapped

T = TypeVar("T")


class quote(Generic[T]):  # noqa: N801 - Prefect's public name
    """Pass the value whole, without looking inside it for futures."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def unquote(self) -> T:
        return self.value

    def unwrap(self) -> T:
        return self.value


class opaque(quote[T]):  # noqa: N801 - Prefect's public name
    """Like ``quote``: the engine treats the value as a black box."""

    __slots__ = ()


class NotSet:
    """Prefect's marker for an argument that was not given."""


def _register() -> None:
    """Teach the engine's input walk that these wrappers are opaque."""
    from orchestrate_nb.engine import inputs

    inputs.register_opaque(quote)
    inputs.register_opaque(opaque)


_register()

__all__ = ["NotSet", "allow_failure", "opaque", "quote", "unmapped"]

