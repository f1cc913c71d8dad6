"""Public logging names (``from orchestrate_nb.logging import get_run_logger``)."""

from orchestrate_nb.engine.logging import get_run_logger

__all__ = ["get_run_logger"]
