"""Run names: Prefect-style generated flow run names and templated run names."""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from typing import Any

from orchestrate_nb.errors import OrchestrateError

_ADJECTIVES = (
    "amber", "brave", "calm", "daring", "eager", "fancy", "gentle", "happy", "icy", "jolly",
    "keen", "lively", "mellow", "nimble", "olive", "proud", "quick", "rapid", "silent", "tidy",
    "upbeat", "vivid", "witty", "young", "zesty", "bold", "crimson", "dusty", "lucky", "sunny",
)
_ANIMALS = (
    "albatross", "badger", "cheetah", "dolphin", "egret", "falcon", "gecko", "heron", "ibis",
    "jaguar", "koala", "lemur", "marmot", "narwhal", "otter", "panda", "quail", "raven",
    "salmon", "tapir", "urchin", "vulture", "walrus", "yak", "zebra", "bison", "crane", "lynx",
)


def generate_flow_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}"


def render_run_name(template: str | Callable[..., str], parameters: dict[str, Any],
                    what: str) -> str:
    """Render ``task_run_name`` / ``flow_run_name``: a format template or a callable.

    A callable taking no arguments is called bare; one taking arguments receives the
    run's parameters by name (only those it accepts).
    """
    if callable(template):
        sig = inspect.signature(template)
        if not sig.parameters:
            name = template()
        elif any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            name = template(**parameters)
        else:
            name = template(**{k: v for k, v in parameters.items() if k in sig.parameters})
    else:
        try:
            name = template.format(**parameters)
        except (KeyError, IndexError) as exc:
            raise OrchestrateError(
                f"{what} template {template!r} names {exc} which is not a parameter") from None
    if not isinstance(name, str):
        raise OrchestrateError(f"{what} callable must return a string, got {type(name).__name__}")
    return name
