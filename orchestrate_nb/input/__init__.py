"""Prefect's ``RunInput`` (``from orchestrate_nb.input import RunInput``): the base of
the models a paused flow run waits for::

    class Approval(RunInput):
        approved: bool
        note: str = ""

    answer = pause_flow_run(wait_for_input=Approval.with_initial_data(note="ok"))

An unknown field is refused (``extra="forbid"``, as in Prefect). Sending input from flow
to flow (``send_to``, ``receive``, ``respond``) needs Prefect's API server and is refused
with one line naming it; resume a run with ``orchestrate-nb runs resume ID -p ...`` or
``resume_flow_run(ID, run_input={...})``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pydantic
from pydantic import ConfigDict

from orchestrate_nb.compat import unsupported

__all__ = ["RunInput"]

_NO_MESSAGES = ("messages between flow runs (there is no API server; resume a paused run "
                "with `orchestrate-nb runs resume ID -p ...` or resume_flow_run)")


class RunInput(pydantic.BaseModel):
    """A pydantic model for the input a paused flow run waits for."""

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="forbid")
    _description: ClassVar[str | None] = None

    @classmethod
    def with_initial_data(cls, description: str | None = None, **kwargs: Any) -> Any:
        """A subclass whose fields default to ``kwargs`` (a form pre-filled)."""
        fields: dict[str, Any] = {}
        for key, value in kwargs.items():
            original = cls.model_fields.get(key)
            annotation = original.annotation if original is not None else type(value)
            fields[key] = (annotation, value)
        model = pydantic.create_model(cls.__name__, __base__=cls, **fields)
        if description is not None:
            model._description = description
        return model

    def send_to(self, *args: Any, **kwargs: Any) -> None:
        raise unsupported("RunInput.send_to", _NO_MESSAGES)

    def respond(self, *args: Any, **kwargs: Any) -> None:
        raise unsupported("RunInput.respond", _NO_MESSAGES)

    @classmethod
    def receive(cls, *args: Any, **kwargs: Any) -> None:
        raise unsupported("RunInput.receive", _NO_MESSAGES)


def __getattr__(name: str) -> Any:
    if name in ("send_input", "receive_input", "create_flow_run_input",
                "read_flow_run_input", "filter_flow_run_input", "delete_flow_run_input",
                "GetInputHandler", "Keyset", "keyset_from_paused_state"):
        raise unsupported(f"orchestrate_nb.input.{name}", _NO_MESSAGES)
    raise AttributeError(f"module 'orchestrate_nb.input' has no attribute {name!r}")
