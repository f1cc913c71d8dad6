"""Public flow names (``from orchestrate_nb.flows import Flow``)."""

from orchestrate_nb.core.flows import Flow, flow
from orchestrate_nb.engine.pause import pause_flow_run

__all__ = ["Flow", "flow", "pause_flow_run"]
