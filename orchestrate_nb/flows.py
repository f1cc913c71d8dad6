"""Public flow names (``from orchestrate_nb.flows import Flow``)."""

from orchestrate_nb.core.flows import Flow, flow

__all__ = ["Flow", "flow"]
