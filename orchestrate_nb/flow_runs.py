"""Public names for acting on flow runs (Prefect's ``prefect.flow_runs``)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from orchestrate_nb.engine.pause import pause_flow_run


def resume_flow_run(flow_run_id: str, run_input: dict[str, Any] | None = None) -> None:
    """Resume a paused flow run (its id, or a unique prefix of it), like
    ``orchestrate-nb runs resume``: ``run_input`` is checked against the input the run
    waits for, and refused (``ResumeError``, nothing written) when it does not fit."""
    from orchestrate_nb.store.pauses import resume_flow_run as resume

    resume(flow_run_id, run_input)


async def apause_flow_run(wait_for_input: type[Any] | None = None, timeout: float = 3600,
                          poll_interval: float = 1.0, key: str | None = None) -> Any:
    """``pause_flow_run`` awaited (Prefect's async name)."""
    result = pause_flow_run(wait_for_input=wait_for_input, timeout=timeout,
                            poll_interval=poll_interval, key=key)
    if inspect.isawaitable(result):
        return await result
    return result


async def aresume_flow_run(flow_run_id: str, run_input: dict[str, Any] | None = None) -> None:
    """``resume_flow_run`` without blocking the event loop (Prefect's async name)."""
    await asyncio.to_thread(resume_flow_run, flow_run_id, run_input)


__all__ = ["apause_flow_run", "aresume_flow_run", "pause_flow_run", "resume_flow_run"]
