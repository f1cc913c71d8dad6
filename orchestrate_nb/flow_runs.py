"""Public names for acting on flow runs (Prefect's ``prefect.flow_runs``)."""

from __future__ import annotations

from typing import Any

from orchestrate_nb.engine.pause import pause_flow_run


def resume_flow_run(flow_run_id: str, run_input: dict[str, Any] | None = None) -> None:
    """Resume a paused flow run (its id, or a unique prefix of it), like
    ``orchestrate-nb runs resume``: ``run_input`` is checked against the input the run
    waits for, and refused (``ResumeError``, nothing written) when it does not fit."""
    from orchestrate_nb.store.pauses import resume_flow_run as resume

    resume(flow_run_id, run_input)


__all__ = ["pause_flow_run", "resume_flow_run"]
