"""``Variable``: named JSON values kept in the run store (Prefect's ``prefect.variables``).

``Variable.set("region", "eu-west-1")``, ``Variable.get("region", default="us")``,
``Variable.unset("region")``, and ``aset``/``aget``/``aunset`` to await. Values are stored
in plaintext (as in Prefect): keep secrets in ``orchestrate_nb.blocks.Secret``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any

from pydantic import BaseModel, Field

from orchestrate_nb.errors import VariableError

UTC = dt.timezone.utc
NAME = re.compile(r"^[a-z0-9_-]+$")
MAX_NAME_LENGTH = 255
MAX_VALUE_CHARS = 5_000


def validate_variable_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise VariableError(f"invalid variable name {name!r}: use lowercase letters, numbers, "
                            f"dashes and underscores (at most {MAX_NAME_LENGTH} characters)")
    return name


def _check_value(name: str, value: Any) -> Any:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise VariableError(f"the value of variable {name!r} cannot be stored: give a JSON "
                            f"value (a string, number, bool, None, list or dict), not "
                            f"{type(value).__name__}") from None
    if len(text) > MAX_VALUE_CHARS:
        raise VariableError(f"the value of variable {name!r} is {len(text):,} characters of "
                            f"JSON; a variable holds at most {MAX_VALUE_CHARS:,}")
    return json.loads(text)  # what is stored: tuples become lists, as on reading back


class Variable(BaseModel):
    """A named JSON value."""

    name: str = Field(description="lowercase letters, numbers, dashes and underscores")
    value: Any = None
    tags: list[str] | None = None

    @classmethod
    def set(cls, name: str, value: Any, tags: list[str] | None = None,
            overwrite: bool = False) -> Variable:
        """Store ``value`` under ``name``; a taken name needs ``overwrite=True``."""
        from orchestrate_nb.store.handles import shared_database
        from orchestrate_nb.store.variables import set_variable

        name = validate_variable_name(name)
        stored = _check_value(name, value)
        if tags is not None and not (isinstance(tags, list) and
                                     all(isinstance(t, str) for t in tags)):
            raise VariableError("a variable's tags must be a list of strings")
        set_variable(shared_database(), name, stored, tags, overwrite, dt.datetime.now(UTC))
        return cls(name=name, value=stored, tags=tags)

    @classmethod
    def get(cls, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default`` when there is no such variable."""
        from orchestrate_nb.store.handles import shared_database
        from orchestrate_nb.store.variables import get_variable

        found = get_variable(shared_database(), validate_variable_name(name))
        return default if found is None else found.value

    @classmethod
    def unset(cls, name: str) -> bool:
        """Remove ``name``; False when there was no such variable."""
        from orchestrate_nb.store.handles import shared_database
        from orchestrate_nb.store.variables import unset_variable

        return unset_variable(shared_database(), validate_variable_name(name))

    @classmethod
    async def aset(cls, name: str, value: Any, tags: list[str] | None = None,
                   overwrite: bool = False) -> Variable:
        return await asyncio.to_thread(cls.set, name, value, tags, overwrite)

    @classmethod
    async def aget(cls, name: str, default: Any = None) -> Any:
        return await asyncio.to_thread(cls.get, name, default)

    @classmethod
    async def aunset(cls, name: str) -> bool:
        return await asyncio.to_thread(cls.unset, name)


__all__ = ["Variable"]
